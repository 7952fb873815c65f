"""The PyTorch half of the train-step benchmark.

The architectures are the parity tests' reference definitions
(`tests/torch_reference/`, `tests/torch_reference_mae.py`) with the same
sizes as the JAX registry entries, an 18-way AU head on the pooled feature,
the AU-DFER loss written with torch's own losses, and `torch.optim.AdamW`
with the JAX side's hyper-parameters. The pre-training model is
`tests/torch_reference_mae_pretrain.py`'s, with the authors' step
(`engine_for_pretraining.py`: targets from the un-normalised clip, MSE on
the masked tokens) on the masks the benchmark wrote (the authors' data
loader draws them, outside the step), and configs/pretrain_mae_dfer.py's
AdamW (one parameter group: decaying the norms and biases too costs the
same). Clips are laid out as each reference
takes them (channels-first for the 3-D convolutions). bfloat16 runs under
`torch.autocast`. On a GPU: CUDA, `cudnn.benchmark` (cuDNN picks the
fastest convolution algorithms during the untimed first step), fused AdamW,
and `torch.compile` with `--torch_compile`; a step ends with a CUDA
synchronisation, so that its time is the GPU's.
"""

import os
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F

from audfer_jax import models
from benchmarks import common
from configs import common as config_lib
from configs import pretrain_mae_dfer

sys.path.insert(
  0, os.path.join(os.path.dirname(os.path.dirname(__file__)), 'tests')
)

# The parity tests' references live in tests/ (not an installed package).
from torch_reference import former_dfer
from torch_reference import m3dfel
from torch_reference import r3d
import torch_reference_mae
import torch_reference_mae_pretrain

NUM_CLASSES, NUM_AUS = common.NUM_CLASSES, common.NUM_AUS
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
# The registry's `mae_dfer_pretrain` (the VoxCeleb2 script) and its tiny.
_PRETRAIN_FULL = dict(_MAE_FULL, dec_dim=384, dec_depth=4, dec_heads=6)
_PRETRAIN_TINY = dict(_MAE_TINY, dec_dim=32, dec_depth=1, dec_heads=2)


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


def _pretrain(region, **kw):
  return (
    torch_reference_mae_pretrain.PretrainViT(region=region, **kw),
    None,
    NCTHW,
  )


# model name -> () -> (reference net, feature dim, NTHWC -> net permutation);
# feature dim None: a pre-training model, no heads.
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
  'mae_dfer_pretrain': lambda: _pretrain((2, 5, 10), **_PRETRAIN_FULL),
  'mae_dfer_pretrain_tiny': lambda: _pretrain((2, 2, 4), **_PRETRAIN_TINY),
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
    self.name, self.data = model_name, data
    self.dtype, self.compile = args.compute_dtype, args.torch_compile
    self.device = torch.device('cuda' if args.device == 'gpu' else 'cpu')
    self.pretrain = models.task(model_name) == 'pretrain'
    if self.pretrain:
      self.config = pretrain_mae_dfer.get_config()
    else:
      self.config = config_lib.get_base_config()
    torch.set_num_threads(len(os.sched_getaffinity(0)))

  def _autocast(self):
    return torch.autocast(
      self.device.type,
      dtype=torch.bfloat16,
      enabled=self.dtype == 'bfloat16',
    )

  def _sync(self):
    if self.device.type == 'cuda':
      torch.cuda.synchronize()

  def setup(self):
    if self.device.type == 'cuda':
      if not torch.cuda.is_available():
        raise RuntimeError('no GPU found: torch.cuda.is_available() is False')
      torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    net, dim, permutation = BUILDERS[self.name]()
    self.model = (net if self.pretrain else WithAUHead(net, dim)).to(
      self.device
    )
    self.forward_fn = torch.compile(self.model) if self.compile else self.model
    c = self.config
    self.optimizer = torch.optim.AdamW(
      self.model.parameters(),
      lr=c.learning_rate,
      betas=tuple(c.betas),
      eps=c.eps,
      weight_decay=c.weight_decay,
      # One kernel for all parameters instead of a loop over them.
      fused=self.device.type == 'cuda',
    )
    d = {k: torch.from_numpy(v).to(self.device) for k, v in self.data.items()}
    self.video = d['video'].permute(permutation).contiguous()
    self.label, self.au_label = d['label'].long(), d['au_label']
    self.knowledge, self.pos_weight = d['knowledge'], d['pos_weight']
    self.mask = d.get('mask')
    # The first steps autotune (cudnn.benchmark) or compile: their time is
    # PyTorch's counterpart of JAX's compile time.
    start = time.perf_counter()
    self.train_step()
    first_step_s = time.perf_counter() - start
    start = time.perf_counter()
    self.forward()
    first_forward_s = time.perf_counter() - start
    info = {
      'torch_version': torch.__version__,
      'threads': torch.get_num_threads(),
      'params': sum(p.numel() for p in self.model.parameters()),
      'dtype': self.dtype,
      'first_step_s': first_step_s,
      'first_forward_s': first_forward_s,
    }
    if self.device.type == 'cuda':
      info['device_kind'] = torch.cuda.get_device_name()
      info['cuda_version'] = torch.version.cuda
      info['cudnn_version'] = torch.backends.cudnn.version()
    return info

  def _loss(self):
    if self.pretrain:
      with self._autocast():
        return torch_reference_mae_pretrain.loss(
          self.forward_fn,
          self.video,
          self.mask,
          int(self.data['patch']),
          self.data['pixel_mean'],
          self.data['pixel_std'],
        )[0]
    with self._autocast():
      expr, au = self.forward_fn(self.video)
    return audfer_loss(
      expr,
      au,
      self.label,
      self.au_label,
      self.knowledge,
      self.pos_weight,
      self.config.au_lambda,
    )

  def train_step(self):
    self.model.train()
    self.optimizer.zero_grad(set_to_none=True)
    loss = self._loss()
    loss.backward()
    self.optimizer.step()
    self._sync()

  def forward(self):
    self.model.eval()
    inputs = (self.video, self.mask) if self.pretrain else (self.video,)
    with torch.inference_mode(), self._autocast():
      self.forward_fn(*inputs)
    self._sync()
    self.model.train()

  def stats(self):
    stats = {'host_peak_mb': common.host_peak_mb()}
    if self.device.type == 'cuda':
      stats['device_peak_mb'] = torch.cuda.max_memory_allocated() / 2**20
    return stats
