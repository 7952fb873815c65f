"""Model registry: name -> factory, reference input clip shape, lr scales.

Every model is an NNX module built as `factory(num_classes, rngs=..., **kw)`
whose `__call__(video)` takes float [B, T, H, W, 3] clips and returns
(expression logits, AU logits). Factories import their module on first use,
so importing the registry stays cheap. A model with layer-wise learning-rate
decay (`config.layer_decay`) names the function that assigns each parameter
its scale.
"""

from collections.abc import Callable
import functools
import importlib
from typing import NamedTuple

from flax import nnx
import jax


def _lazy(module: str, attr: str, **kwargs):
  """Factory for `audfer_jax.models.<module>.<attr>(..., **kwargs)`."""

  def factory(*args, **overrides):
    cls = getattr(importlib.import_module(f'audfer_jax.models.{module}'), attr)
    return functools.partial(cls, **kwargs)(*args, **overrides)

  return factory


# Reduced widths/depths/resolution for tests and the CPU demo.
TINY_WIDTHS = (8, 16, 16, 32)
_R3D_TINY = dict(widths=TINY_WIDTHS)
_M3DFEL_TINY = dict(
  widths=TINY_WIDTHS,
  num_frames=8,
  instance_length=2,
  lstm_hidden=16,
  num_heads=2,
)
# Also the size of benchmarks/torch_side.py's PyTorch Former-DFER tiny.
FORMER_TINY = dict(
  widths=TINY_WIDTHS,
  image_size=32,
  num_frames=8,
  s_heads=2,
  s_dim_head=8,
  s_mlp_dim=32,
  t_depth=1,
  t_heads=2,
  t_dim_head=16,
  t_mlp_dim=64,
)
# The transformers' tiny encoder, shared by the LGI and the ViT variant.
_MAE_TINY = dict(
  embed_dim=64, depth=2, num_heads=4, img_size=32, patch_size=8, num_frames=8
)


class _Entry(NamedTuple):
  factory: Callable[..., nnx.Module]
  input_shape: tuple[int, int, int, int]
  # (model, decay) -> per-parameter lr multipliers; None: no layer decay.
  lr_scales: Callable[[nnx.Module, float], nnx.State] | None = None


# The transformers' layer-wise decay (MAE-DFER's LayerDecayValueAssigner).
_VIT_LR_SCALES = _lazy('mae_dfer', 'lr_scales')

_REGISTRY = {
  'r3d_18': _Entry(_lazy('r3d', 'R3D'), (16, 112, 112, 3)),
  'r3d_18_tiny': _Entry(_lazy('r3d', 'R3D', **_R3D_TINY), (8, 32, 32, 3)),
  'm3dfel': _Entry(_lazy('m3dfel', 'M3DFEL'), (16, 112, 112, 3)),
  'm3dfel_tiny': _Entry(
    _lazy('m3dfel', 'M3DFEL', **_M3DFEL_TINY), (8, 32, 32, 3)
  ),
  'former_dfer': _Entry(_lazy('former_dfer', 'FormerDFER'), (16, 112, 112, 3)),
  'former_dfer_tiny': _Entry(
    _lazy('former_dfer', 'FormerDFER', **FORMER_TINY), (8, 32, 32, 3)
  ),
  'mae_dfer': _Entry(
    _lazy('mae_dfer', 'VideoTransformer'), (16, 160, 160, 3), _VIT_LR_SCALES
  ),
  'mae_dfer_tiny': _Entry(
    _lazy('mae_dfer', 'VideoTransformer', **_MAE_TINY, region_size=(2, 2, 2)),
    (8, 32, 32, 3),
    _VIT_LR_SCALES,
  ),
  'videomae_vit_b': _Entry(
    _lazy(
      'mae_dfer',
      'VideoTransformer',
      embed_dim=768,
      depth=12,
      num_heads=12,
      attn_type='joint',
    ),
    (16, 160, 160, 3),
    _VIT_LR_SCALES,
  ),
  'videomae_vit_b_tiny': _Entry(
    _lazy('mae_dfer', 'VideoTransformer', **_MAE_TINY, attn_type='joint'),
    (8, 32, 32, 3),
    _VIT_LR_SCALES,
  ),
}


def names() -> list[str]:
  """All registered model names."""
  return sorted(_REGISTRY)


def _entry(name: str) -> _Entry:
  if name not in _REGISTRY:
    raise ValueError(f'unknown model {name!r}; known: {", ".join(names())}')
  return _REGISTRY[name]


def create(
  name: str, num_classes: int, *, rngs: nnx.Rngs, **overrides
) -> nnx.Module:
  """Builds model `name`; `overrides` replace its architecture kwargs.

  The whole initialisation is one compiled program (`nnx.jit`): built op by
  op, each initialiser compiles on its own, several seconds in all on a CPU
  (benchmarks/README.md, start-up), and one program is what JAX's
  persistent compilation cache can keep for the next run (`runtime.py`).
  The weights are the same, bit for bit (tests/test_models_init.py). The
  random numbers are drawn with JAX's non-partitionable threefry, which
  XLA:CPU compiles several times faster than the partitionable one for
  5-D conv kernels; initialisation runs unsharded, where the two differ
  only in which numbers they draw.
  """
  _entry(name)  # an unknown name fails here, not inside the trace
  with jax.threefry_partitionable(False):
    return _build(
      rngs, name=name, num_classes=num_classes, overrides=_Frozen(overrides)
    )


class _Frozen(dict):
  """`overrides`, hashable, so that `_build` compiles once a model: JAX keys
  its cache of compiled programs on the static arguments."""

  def __hash__(self):
    return hash(tuple(sorted((k, repr(v)) for k, v in self.items())))


@functools.partial(
  nnx.jit, static_argnames=('name', 'num_classes', 'overrides')
)
def _build(rngs, *, name, num_classes, overrides):
  return _entry(name).factory(num_classes, rngs=rngs, **overrides)


def input_shape(name: str) -> tuple[int, int, int, int]:
  """The reference clip shape (T, H, W, 3) of model `name`."""
  return _entry(name).input_shape


def lr_scales(name: str, model: nnx.Module, decay: float) -> nnx.State:
  """Layer-wise lr decay of model `name`: a multiplier per parameter.

  Returns a tree shaped like `nnx.state(model, nnx.Param)`.

  Raises:
    ValueError: the model has no layer-wise decay.
  """
  entry = _entry(name)
  if entry.lr_scales is None:
    with_decay = [n for n in names() if _REGISTRY[n].lr_scales is not None]
    raise ValueError(
      f'config.layer_decay: model {name!r} has no layer-wise lr decay (the '
      f'models with one: {", ".join(with_decay)}); set it to 0.'
    )
  return entry.lr_scales(model, decay)
