"""M3DFEL in PyTorch (keys features.*, lstm.*, to_qkv, norm.*, pwconv, fc).

The reference's `.squeeze()` calls are replaced by explicit axes so that
batch 1 works.
"""

import torch
from torch import nn

from .r3d import R3D18


class DMIN(nn.Module):
  """Instance/bag statistics mixed by softmax weights; input (B, C, N)."""

  def __init__(self, num_features, eps=1e-5):
    super().__init__()
    self.eps = eps
    self.weight = nn.Parameter(torch.ones(1, num_features, 1))
    self.bias = nn.Parameter(torch.zeros(1, num_features, 1))
    self.mean_weight = nn.Parameter(torch.ones(2))
    self.var_weight = nn.Parameter(torch.ones(2))

  def forward(self, x):
    mean_in = x.mean(-1, keepdim=True)
    var_in = x.var(-1, keepdim=True)  # unbiased
    mean_ln = mean_in.mean(1, keepdim=True)
    var_ln = (var_in + mean_in**2).mean(1, keepdim=True) - mean_ln**2
    wm = self.mean_weight.softmax(0)
    wv = self.var_weight.softmax(0)
    mean = wm[0] * mean_in + wm[1] * mean_ln
    var = wv[0] * var_in + wv[1] * var_ln
    return (x - mean) / (var + self.eps).sqrt() * self.weight + self.bias


class M3DFEL(nn.Module):
  """Input (B, T, 3, H, W)."""

  def __init__(
    self,
    num_classes=7,
    widths=(64, 128, 256, 512),
    num_frames=16,
    instance_length=4,
    hidden=512,
    heads=8,
  ):
    super().__init__()
    self.bag_size = num_frames // instance_length
    self.instance_length = instance_length
    self.heads = heads
    backbone = R3D18(widths=widths)
    self.features = nn.Sequential(*list(backbone.children())[:-1])
    self.lstm = nn.LSTM(
      widths[-1], hidden, num_layers=2, batch_first=True, bidirectional=True
    )
    dim = 2 * hidden
    self.to_qkv = nn.Linear(dim, 3 * dim, bias=False)
    self.norm = DMIN(dim)
    self.pwconv = nn.Conv1d(self.bag_size, 1, 3, 1, 1)
    self.fc = nn.Linear(dim, num_classes)

  def forward(self, x, return_feature=False):
    b, _, c, h, w = x.shape
    x = x.reshape(b, self.bag_size, self.instance_length, c, h, w)
    x = x.reshape(b * self.bag_size, self.instance_length, c, h, w)
    x = self.features(x.transpose(1, 2)).flatten(1)
    x, _ = self.lstm(x.reshape(b, self.bag_size, -1))
    ori = x
    n, d = x.shape[1], x.shape[2]
    q, k, v = (
      t.reshape(b, n, self.heads, -1).transpose(1, 2)
      for t in self.to_qkv(x).chunk(3, dim=-1)
    )
    scale = q.shape[-1] ** -0.5
    attn = (q @ k.transpose(-1, -2) * scale).softmax(-1)
    x = (attn @ v).transpose(1, 2).reshape(b, n, d)
    x = self.norm(x.transpose(1, 2)).transpose(1, 2).sigmoid()
    feature = self.pwconv(ori * x).squeeze(1)
    logits = self.fc(feature)
    return (logits, feature) if return_feature else logits
