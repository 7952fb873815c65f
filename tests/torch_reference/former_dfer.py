"""Former-DFER in PyTorch (keys s_former.*, t_former.*, fc.*)."""

import math

import torch
from torch import nn


class GELU(nn.Module):
  """tanh approximation, as the reference writes it."""

  def forward(self, x):
    return (
      0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    )


class Residual(nn.Module):
  def __init__(self, fn):
    super().__init__()
    self.fn = fn

  def forward(self, x):
    return self.fn(x) + x


class PreNorm(nn.Module):
  def __init__(self, dim, fn):
    super().__init__()
    self.norm = nn.LayerNorm(dim)
    self.fn = fn

  def forward(self, x):
    return self.fn(self.norm(x))


class FeedForward(nn.Module):
  def __init__(self, dim, hidden):
    super().__init__()
    self.net = nn.Sequential(
      nn.Linear(dim, hidden),
      GELU(),
      nn.Dropout(0.0),
      nn.Linear(hidden, dim),
      nn.Dropout(0.0),
    )

  def forward(self, x):
    return self.net(x)


class Attention(nn.Module):
  def __init__(self, dim, heads, dim_head):
    super().__init__()
    self.heads = heads
    self.to_qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
    self.to_out = nn.Sequential(
      nn.Linear(heads * dim_head, dim), nn.Dropout(0.0)
    )

  def forward(self, x):
    b, n, _ = x.shape
    q, k, v = (
      t.reshape(b, n, self.heads, -1).transpose(1, 2)
      for t in self.to_qkv(x).chunk(3, dim=-1)
    )
    attn = (q @ k.transpose(-1, -2) * q.shape[-1] ** -0.5).softmax(-1)
    return self.to_out((attn @ v).transpose(1, 2).reshape(b, n, -1))


class Transformer(nn.Module):
  def __init__(self, dim, depth, heads, dim_head, mlp_dim):
    super().__init__()
    self.layers = nn.ModuleList(
      nn.ModuleList(
        [
          Residual(PreNorm(dim, Attention(dim, heads, dim_head))),
          Residual(PreNorm(dim, FeedForward(dim, mlp_dim))),
        ]
      )
      for _ in range(depth)
    )

  def forward(self, x):
    for attn, ff in self.layers:
      x = ff(attn(x))
    return x


class Block(nn.Module):
  """torchvision ResNet BasicBlock."""

  def __init__(self, cin, cout, stride):
    super().__init__()
    self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(cout)
    self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(cout)
    self.downsample = None
    if stride != 1 or cin != cout:
      self.downsample = nn.Sequential(
        nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
      )

  def forward(self, x):
    out = self.bn2(self.conv2(self.bn1(self.conv1(x)).relu()))
    return (out + (x if self.downsample is None else self.downsample(x))).relu()


class SFormer(nn.Module):
  def __init__(self, widths, num_patches, heads, dim_head, mlp_dim):
    super().__init__()
    self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
    self.bn1 = nn.BatchNorm2d(widths[0])
    self.maxpool = nn.MaxPool2d(3, 2, 1)
    cin = widths[0]
    for i, w in enumerate(widths):
      stride = 1 if i == 0 else 2
      setattr(
        self,
        f'layer{i + 1}',
        nn.Sequential(Block(cin, w, stride), Block(w, w, 1)),
      )
      cin = w
    self.pos_embedding = nn.Parameter(torch.randn(1, num_patches, widths[2]))
    self.spatial_transformer = Transformer(
      widths[2], 1, heads, dim_head, mlp_dim
    )

  def forward(self, x):
    x = self.maxpool(self.bn1(self.conv1(x)).relu())
    x = self.layer3(self.layer2(self.layer1(x)))
    n, c, h, w = x.shape
    x = x.flatten(2).transpose(1, 2) + self.pos_embedding
    x = self.spatial_transformer(x).transpose(1, 2).reshape(n, c, h, w)
    return self.layer4(x).mean((2, 3))


class TFormer(nn.Module):
  def __init__(self, dim, num_frames, depth, heads, dim_head, mlp_dim):
    super().__init__()
    self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
    self.pos_embedding = nn.Parameter(torch.randn(1, num_frames + 1, dim))
    self.spatial_transformer = Transformer(dim, depth, heads, dim_head, mlp_dim)

  def forward(self, x):
    cls = self.cls_token.expand(x.shape[0], -1, -1)
    x = torch.cat([cls, x], dim=1) + self.pos_embedding
    return self.spatial_transformer(x)[:, 0]


class FormerDFER(nn.Module):
  """Input (B, T, 3, H, W)."""

  def __init__(
    self,
    num_classes=7,
    widths=(64, 128, 256, 512),
    image_size=112,
    num_frames=16,
    s_heads=8,
    s_dim_head=32,
    s_mlp_dim=512,
    t_depth=3,
    t_heads=8,
    t_dim_head=64,
    t_mlp_dim=1024,
  ):
    super().__init__()
    grid = image_size // 16
    self.s_former = SFormer(widths, grid * grid, s_heads, s_dim_head, s_mlp_dim)
    self.t_former = TFormer(
      widths[-1], num_frames, t_depth, t_heads, t_dim_head, t_mlp_dim
    )
    self.fc = nn.Linear(widths[-1], num_classes)

  def forward(self, x, return_feature=False):
    b, t = x.shape[:2]
    x = self.s_former(x.flatten(0, 1)).reshape(b, t, -1)
    feature = self.t_former(x)
    logits = self.fc(feature)
    return (logits, feature) if return_feature else logits
