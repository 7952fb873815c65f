"""Compact PyTorch LGI-Former / VideoMAE ViT, after sunlicai/MAE-DFER.

The fine-tuning model of MAE-DFER's `modeling_finetune.py`:
state_dict keys match the released checkpoints (`blocks.i.first_attn.q`,
`...kv`, `q_bias`, `v_bias`, `lg_region_tokens`, `fc_norm`, `head`; the joint
ViT has a fused `attn.qkv`). Channels-first input [B, 3, T, H, W]. Used only
as the reference side of the parity tests.
"""

import math

import numpy as np
import torch
from torch import nn


def sinusoid_table(n, dim):
  """[n, dim] table: even channels sin, odd channels cos of pos / 1e4^(2i/d)."""
  table = np.zeros((n, dim))
  for pos in range(n):
    for j in range(dim):
      angle = pos / 10000 ** (2 * (j // 2) / dim)
      table[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
  return torch.tensor(table, dtype=torch.float32)


def drop_path(x, rate, training):
  """Per-sample stochastic depth."""
  if rate == 0 or not training:
    return x
  keep = torch.rand(x.shape[0], *[1] * (x.dim() - 1)) < 1 - rate
  return x * keep / (1 - rate)


class CrossAttention(nn.Module):
  """q from x, k/v from context; k has no bias (zeros ++ v_bias)."""

  def __init__(self, dim, heads):
    super().__init__()
    self.heads = heads
    self.q = nn.Linear(dim, dim, bias=False)
    self.kv = nn.Linear(dim, 2 * dim, bias=False)
    self.q_bias = nn.Parameter(0.1 * torch.randn(dim))
    self.v_bias = nn.Parameter(0.1 * torch.randn(dim))
    self.proj = nn.Linear(dim, dim)

  def forward(self, x, context=None):
    context = x if context is None else context
    q = nn.functional.linear(x, self.q.weight, self.q_bias)
    kv_bias = torch.cat([torch.zeros_like(self.v_bias), self.v_bias])
    kv = nn.functional.linear(context, self.kv.weight, kv_bias)
    k, v = kv.chunk(2, dim=-1)
    return self.proj(_attend(q, k, v, self.heads))


class FusedAttention(nn.Module):
  """VideoMAE joint attention: one qkv weight, bias (q_bias, 0, v_bias)."""

  def __init__(self, dim, heads):
    super().__init__()
    self.heads = heads
    self.qkv = nn.Linear(dim, 3 * dim, bias=False)
    self.q_bias = nn.Parameter(0.1 * torch.randn(dim))
    self.v_bias = nn.Parameter(0.1 * torch.randn(dim))
    self.proj = nn.Linear(dim, dim)

  def forward(self, x):
    bias = torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])
    q, k, v = nn.functional.linear(x, self.qkv.weight, bias).chunk(3, dim=-1)
    return self.proj(_attend(q, k, v, self.heads))


def _attend(q, k, v, heads):
  """Scaled dot-product attention over [B, T, C] tensors, heads concat."""
  b, t1, c = q.shape
  d = c // heads
  q = q.reshape(b, t1, heads, d).transpose(1, 2) * d**-0.5
  k = k.reshape(b, -1, heads, d).transpose(1, 2)
  v = v.reshape(b, -1, heads, d).transpose(1, 2)
  out = (q @ k.transpose(-2, -1)).softmax(-1) @ v
  return out.transpose(1, 2).reshape(b, t1, c)


class Mlp(nn.Module):
  def __init__(self, dim, hidden):
    super().__init__()
    self.fc1 = nn.Linear(dim, hidden)
    self.fc2 = nn.Linear(hidden, dim)

  def forward(self, x):
    return self.fc2(nn.functional.gelu(self.fc1(x)))


def _ln(dim):
  norm = nn.LayerNorm(dim, eps=1e-6)
  # Random affine parameters so that the parity test exercises them.
  nn.init.normal_(norm.weight, 1.0, 0.1)
  nn.init.normal_(norm.bias, 0.0, 0.1)
  return norm


class JointBlock(nn.Module):
  def __init__(self, dim, heads, dp):
    super().__init__()
    self.dp = dp
    self.norm1 = _ln(dim)
    self.attn = FusedAttention(dim, heads)
    self.norm2 = _ln(dim)
    self.mlp = Mlp(dim, 4 * dim)

  def forward(self, x):
    x = x + drop_path(self.attn(self.norm1(x)), self.dp, self.training)
    return x + drop_path(self.mlp(self.norm2(x)), self.dp, self.training)


class LGBlock(nn.Module):
  """Spec B.2, on x [B*R, 1+S, C] with the representative token first."""

  def __init__(self, dim, heads, dp):
    super().__init__()
    self.dp = dp
    self.first_attn_norm0 = _ln(dim)
    self.first_attn = CrossAttention(dim, heads)
    self.second_attn_norm0 = _ln(dim)
    self.second_attn = CrossAttention(dim, heads)
    self.third_attn_norm0 = _ln(dim)
    self.third_attn_norm1 = _ln(dim)
    self.third_attn = CrossAttention(dim, heads)
    self.norm2 = _ln(dim)
    self.mlp = Mlp(dim, 4 * dim)

  def forward(self, x, b):
    def dp(y):
      return drop_path(y, self.dp, self.training)

    br, s1, c = x.shape
    r = br // b
    x = x + dp(self.first_attn(self.first_attn_norm0(x)))
    rep = x[:, 0].reshape(b, r, c)
    rep = rep + dp(self.second_attn(self.second_attn_norm0(rep)))
    loc = x[:, 1:].reshape(b, r * (s1 - 1), c)
    ctx = self.third_attn_norm1(rep)
    loc = loc + dp(self.third_attn(self.third_attn_norm0(loc), ctx))
    x = torch.cat([rep.reshape(br, 1, c), loc.reshape(br, s1 - 1, c)], 1)
    return x + dp(self.mlp(self.norm2(x)))


class VideoViT(nn.Module):
  """LGI-Former (region_size given) or joint ViT (region_size None)."""

  def __init__(
    self,
    num_classes,
    dim,
    depth,
    heads,
    frames,
    size,
    patch,
    tubelet=2,
    region_size=None,
    drop_path_rate=0.0,
  ):
    super().__init__()
    self.grid = (frames // tubelet, size // patch, size // patch)
    self.region_size = region_size
    self.patch_embed = nn.Module()
    self.patch_embed.proj = nn.Conv3d(
      3, dim, (tubelet, patch, patch), (tubelet, patch, patch)
    )
    self.pos_embed = sinusoid_table(int(np.prod(self.grid)), dim)
    rates = np.linspace(0, drop_path_rate, depth)
    if region_size is None:
      self.blocks = nn.ModuleList(JointBlock(dim, heads, p) for p in rates)
    else:
      num_regions = int(np.prod(self.grid) // np.prod(region_size))
      self.lg_region_tokens = nn.Parameter(torch.randn(num_regions, dim))
      self.blocks = nn.ModuleList(LGBlock(dim, heads, p) for p in rates)
    self.fc_norm = _ln(dim)
    self.head = nn.Linear(dim, num_classes)

  def features(self, video):
    """video [B, 3, T, H, W] -> pooled, fc_norm-ed feature [B, C]."""
    x = self.patch_embed.proj(video).flatten(2).transpose(1, 2)
    x = x + self.pos_embed
    b, _, c = x.shape
    if self.region_size is None:
      for blk in self.blocks:
        x = blk(x)
      return self.fc_norm(x.mean(1))
    (gt, gh, gw), (t, h, w) = self.grid, self.region_size
    x = x.reshape(b, gt // t, t, gh // h, h, gw // w, w, c)
    x = x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(b, -1, t * h * w, c)
    rep = self.lg_region_tokens[None, :, None].expand(b, -1, 1, -1)
    x = torch.cat([rep, x], 2)
    r = x.shape[1]
    x = x.reshape(b * r, -1, c)
    for blk in self.blocks:
      x = blk(x, b)
    return self.fc_norm(x.reshape(b, r, -1, c)[:, :, 0].mean(1))

  def forward(self, video):
    return self.head(self.features(video))
