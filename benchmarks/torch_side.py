"""The PyTorch half of the train-step benchmark.

The architectures are the parity tests' reference definitions
(`tests/torch_reference/`, `tests/torch_reference_mae.py`) with the same
sizes as the JAX registry entries, an 18-way AU head on the pooled feature,
the AU-DFER loss written with torch's own losses, and `torch.optim.AdamW`
with the JAX side's hyper-parameters. Clips are laid out as each reference
takes them (channels-first for the 3-D convolutions); bfloat16 runs under
CPU autocast.
"""

import contextlib
import os
import sys

import torch
from torch import nn
import torch.nn.functional as F

from audfer_jax import models
from benchmarks import common
from configs import common as config_lib

sys.path.insert(
  0, os.path.join(os.path.dirname(os.path.dirname(__file__)), 'tests')
)

# The parity tests' references live in tests/ (not an installed package).
from torch_reference import former_dfer
from torch_reference import m3dfel
from torch_reference import r3d
import torch_reference_mae

# The classes/AUs of the synthetic batch (common.synthetic_batch).
NUM_CLASSES, NUM_AUS = 7, 18
# Channels-first clips for the 3-D models, frames-first for the 2-D ones.
NCTHW, NTCHW = (0, 4, 1, 2, 3), (0, 1, 4, 2, 3)

# The JAX registry's tiny variants (audfer_jax/models/__init__.py).
_TINY_WIDTHS = dict(widths=models.TINY_WIDTHS)
_M3DFEL_TINY = dict(
  _TINY_WIDTHS, num_frames=8, instance_length=2, hidden=16, heads=2
)
_FORMER_TINY = models.FORMER_TINY  # same keyword names on both sides
_MAE_TINY = dict(dim=64, depth=2, heads=4, frames=8, size=32, patch=8)
_MAE_FULL = dict(dim=512, depth=16, heads=8, frames=16, size=160, patch=16)
_VIT_B = dict(dim=768, depth=12, heads=12, frames=16, size=160, patch=16)


def _r3d(**kw):
  net = r3d.R3D18(NUM_CLASSES, **kw)
  return net, net.fc.in_features, NCTHW


def _m3dfel(**kw):
  net = m3dfel.M3DFEL(NUM_CLASSES, **kw)
  return net, net.fc.in_features, NTCHW


def _former(**kw):
  net = former_dfer.FormerDFER(NUM_CLASSES, **kw)
  return net, net.fc.in_features, NTCHW


def _mae(region_size, **kw):
  net = torch_reference_mae.VideoViT(
    NUM_CLASSES, region_size=region_size, drop_path_rate=0.1, **kw
  )
  return net, kw['dim'], NCTHW


# model name -> () -> (reference net, feature dim, NTHWC -> net permutation)
BUILDERS = {
  'r3d_18': _r3d,
  'r3d_18_tiny': lambda: _r3d(**_TINY_WIDTHS),
  'm3dfel': _m3dfel,
  'm3dfel_tiny': lambda: _m3dfel(**_M3DFEL_TINY),
  'former_dfer': _former,
  'former_dfer_tiny': lambda: _former(**_FORMER_TINY),
  'mae_dfer': lambda: _mae((2, 5, 10), **_MAE_FULL),
  'mae_dfer_tiny': lambda: _mae((2, 2, 2), **_MAE_TINY),
  'videomae_vit_b': lambda: _mae(None, **_VIT_B),
  'videomae_vit_b_tiny': lambda: _mae(None, **_MAE_TINY),
}


class WithAUHead(nn.Module):
  """The reference net plus an AU head on its pooled feature."""

  def __init__(self, net, dim):
    super().__init__()
    self.net = net
    self.au_head = nn.Linear(dim, NUM_AUS)

  def forward(self, video):
    if isinstance(self.net, torch_reference_mae.VideoViT):
      feature = self.net.features(video)
      logits = self.net.head(feature)
    else:
      logits, feature = self.net(video, return_feature=True)
    return logits, self.au_head(feature)


def audfer_loss(expr, au, label, au_label, knowledge, pos_weight, au_lambda):
  """torch's CE + BCEWithLogits(weight=5 K[label], pos_weight) (eq. 10)."""
  expr_loss = F.cross_entropy(expr.float(), label)
  au_loss = F.binary_cross_entropy_with_logits(
    au.float(), au_label, weight=5.0 * knowledge[label], pos_weight=pos_weight
  )
  return (1 - au_lambda) * expr_loss + au_lambda * au_loss


class Runner:
  """Same interface as `jax_side.Runner`."""

  def __init__(self, model_name, data, args):
    if model_name not in BUILDERS:
      raise ValueError(
        f'no PyTorch reference for {model_name!r}; have {sorted(BUILDERS)}'
      )
    self.name, self.data, self.dtype = model_name, data, args.dtype
    self.config = config_lib.get_base_config()
    torch.set_num_threads(len(os.sched_getaffinity(0)))

  def _autocast(self):
    if self.dtype == 'bfloat16':
      return torch.autocast('cpu', dtype=torch.bfloat16)
    return contextlib.nullcontext()

  def setup(self):
    torch.manual_seed(0)
    net, dim, permutation = BUILDERS[self.name]()
    self.model = WithAUHead(net, dim)
    c = self.config
    self.optimizer = torch.optim.AdamW(
      self.model.parameters(),
      lr=c.learning_rate,
      betas=tuple(c.betas),
      eps=c.eps,
      weight_decay=c.weight_decay,
    )
    d = {k: torch.from_numpy(v) for k, v in self.data.items()}
    self.video = d['video'].permute(permutation).contiguous()
    self.label, self.au_label = d['label'].long(), d['au_label']
    self.knowledge, self.pos_weight = d['knowledge'], d['pos_weight']
    return {
      'torch_version': torch.__version__,
      'threads': torch.get_num_threads(),
      'params': sum(p.numel() for p in self.model.parameters()),
    }

  def train_step(self):
    self.model.train()
    self.optimizer.zero_grad(set_to_none=True)
    with self._autocast():
      expr, au = self.model(self.video)
    loss = audfer_loss(
      expr,
      au,
      self.label,
      self.au_label,
      self.knowledge,
      self.pos_weight,
      self.config.au_lambda,
    )
    loss.backward()
    self.optimizer.step()

  def forward(self):
    self.model.eval()
    with torch.inference_mode(), self._autocast():
      self.model(self.video)
    self.model.train()

  def stats(self):
    return {'host_peak_mb': common.host_peak_mb()}
