"""Compact PyTorch MAE-DFER pre-training model and loss, after
sunlicai/MAE-DFER `modeling_pretrain.py` and `engine_for_pretraining.py`.

`PretrainViT`'s state_dict keys are the released pre-training checkpoint's
(`encoder.*` with `encoder.norm`, `decoder.*` with fused `attn.qkv`,
`encoder_to_decoder.weight`, `mask_token`). Channels-first clips
[B, 3, T, H, W]; masks bool [B, N], True where hidden. Used only as the
reference side of the parity tests; the blocks are torch_reference_mae's.
"""

import numpy as np
import torch
from torch import nn
import torch_reference_mae as ref


class Encoder(nn.Module):
  """LGI-Former (region_size given) or joint ViT on the visible tokens."""

  def __init__(self, dim, depth, heads, frames, size, patch, tubelet, region):
    super().__init__()
    self.grid = (frames // tubelet, size // patch, size // patch)
    self.region = region
    self.patch_embed = nn.Module()
    self.patch_embed.proj = nn.Conv3d(
      3, dim, (tubelet, patch, patch), (tubelet, patch, patch)
    )
    self.pos_embed = ref.sinusoid_table(int(np.prod(self.grid)), dim)
    if region is None:
      self.blocks = nn.ModuleList(
        ref.JointBlock(dim, heads, 0) for _ in range(depth)
      )
    else:
      num_regions = int(np.prod(self.grid) // np.prod(region))
      self.lg_region_tokens = nn.Parameter(torch.randn(num_regions, dim))
      self.blocks = nn.ModuleList(
        ref.LGBlock(dim, heads, 0) for _ in range(depth)
      )
    self.norm = ref._ln(dim)

  def forward(self, video, mask):
    x = self.patch_embed.proj(video).flatten(2).transpose(1, 2)
    x = x + self.pos_embed
    b, n, c = x.shape
    x = x[~mask].reshape(b, -1, c)
    if self.region is None:
      for blk in self.blocks:
        x = blk(x)
      return self.norm(x)
    (gt, gh, gw), (t, h, w) = self.grid, self.region
    nt, nhw = gt // t, (gh // h) * (gw // w)
    hw = int(h * w * x.shape[1] / n)  # the authors' unmask_ratio rounding
    # 'b (nt t nhw hw) c -> b (nt nhw) (t hw) c'
    x = x.reshape(b, nt, t, nhw, hw, c).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(b, nt * nhw, t * hw, c)
    rep = self.lg_region_tokens[None, :, None].expand(b, -1, 1, -1)
    x = torch.cat([rep, x], 2).reshape(b * nt * nhw, 1 + t * hw, c)
    for blk in self.blocks:
      x = blk(x, b)
    # '(b n) s c -> b (n s) c' of the region tokens' followers
    return self.norm(x[:, 1:].reshape(b, -1, c))


class Decoder(nn.Module):
  def __init__(self, dim, depth, heads, out_dim):
    super().__init__()
    self.blocks = nn.ModuleList(
      ref.JointBlock(dim, heads, 0) for _ in range(depth)
    )
    self.norm = ref._ln(dim)
    self.head = nn.Linear(dim, out_dim)

  def forward(self, x, num_masked):
    for blk in self.blocks:
      x = blk(x)
    return self.head(self.norm(x[:, -num_masked:]))


class PretrainViT(nn.Module):
  """`PretrainVisionTransformer`: clips and masks -> pixels of the masked."""

  def __init__(
    self,
    dim,
    depth,
    heads,
    dec_dim,
    dec_depth,
    dec_heads,
    frames,
    size,
    patch,
    tubelet=2,
    region=None,
  ):
    super().__init__()
    self.encoder = Encoder(
      dim, depth, heads, frames, size, patch, tubelet, region
    )
    out_dim = 3 * tubelet * patch**2
    self.decoder = Decoder(dec_dim, dec_depth, dec_heads, out_dim)
    self.encoder_to_decoder = nn.Linear(dim, dec_dim, bias=False)
    self.mask_token = nn.Parameter(torch.randn(1, 1, dec_dim))
    self.pos_embed = ref.sinusoid_table(
      int(np.prod(self.encoder.grid)), dec_dim
    )

  def forward(self, video, mask):
    x = self.encoder_to_decoder(self.encoder(video, mask))
    b, _, c = x.shape
    pos = self.pos_embed.expand(b, -1, -1)
    pos_vis = pos[~mask].reshape(b, -1, c)
    pos_mask = pos[mask].reshape(b, -1, c)
    x = torch.cat([x + pos_vis, self.mask_token + pos_mask], 1)
    return self.decoder(x, pos_mask.shape[1])


def _patches(video, patch, tubelet):
  """'b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2) c'."""
  b, c, tt, hh, ww = video.shape
  t, h, w = tt // tubelet, hh // patch, ww // patch
  x = video.reshape(b, c, t, tubelet, h, patch, w, patch)
  x = x.permute(0, 2, 4, 6, 3, 5, 7, 1)
  return x.reshape(b, t * h * w, tubelet * patch * patch, c)


def targets(unnorm, patch, tubelet=2, group=2):
  """engine_for_pretraining.py's labels of every token (normalised target,
  frame differences in groups of `group` frames; 0: none)."""
  x = _patches(unnorm, patch, tubelet)
  x = (x - x.mean(dim=-2, keepdim=True)) / (
    x.var(dim=-2, unbiased=True, keepdim=True).sqrt() + 1e-6
  )
  b, n = x.shape[:2]
  if not group:
    return x.reshape(b, n, -1)
  c, tt, hh, ww = unnorm.shape[1:]
  t, h, w = tt // tubelet, hh // patch, ww // patch
  # 'b (t h w) (p0 p1 p2 c) -> b c (t p0) (h p1) (w p2)'
  v = x.reshape(b, t, h, w, tubelet, patch, patch, c)
  v = v.permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(b, c, tt, hh, ww)
  kept = v[:, :, ::group]
  diff = v - kept.repeat_interleave(group, dim=2)
  diff[:, :, ::group] = v[:, :, ::group]
  return _patches(diff, patch, tubelet).reshape(b, n, -1)


def loss(model, video, mask, patch, mean, std, group=2):
  """(MSE loss, outputs, labels) of one batch, as train_one_epoch."""
  mean = torch.as_tensor(mean)[None, :, None, None, None]
  std = torch.as_tensor(std)[None, :, None, None, None]
  labels = targets(video * std + mean, patch, group=group)
  b, _, c = labels.shape
  labels = labels[mask].reshape(b, -1, c)
  outputs = model(video, mask)
  return nn.MSELoss()(input=outputs, target=labels), outputs, labels
