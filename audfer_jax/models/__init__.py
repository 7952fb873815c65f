"""Model registry: name -> (factory, reference input clip shape).

Every model is an NNX module built as `factory(num_classes, rngs=..., **kw)`
whose `__call__(video)` takes float [B, T, H, W, 3] clips and returns
(expression logits, AU logits). Factories import their module on first use,
so importing the registry stays cheap.
"""

import functools
import importlib

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

_REGISTRY = {
  'r3d_18': (_lazy('r3d', 'R3D'), (16, 112, 112, 3)),
  'r3d_18_tiny': (_lazy('r3d', 'R3D', **_R3D_TINY), (8, 32, 32, 3)),
  'm3dfel': (_lazy('m3dfel', 'M3DFEL'), (16, 112, 112, 3)),
  'm3dfel_tiny': (_lazy('m3dfel', 'M3DFEL', **_M3DFEL_TINY), (8, 32, 32, 3)),
  'former_dfer': (_lazy('former_dfer', 'FormerDFER'), (16, 112, 112, 3)),
  'former_dfer_tiny': (
    _lazy('former_dfer', 'FormerDFER', **FORMER_TINY),
    (8, 32, 32, 3),
  ),
  # --- MAE-DFER helper entries: begin (edited only by the MAE helper) ---
  'mae_dfer': (_lazy('mae_dfer', 'VideoTransformer'), (16, 160, 160, 3)),
  'mae_dfer_tiny': (
    _lazy('mae_dfer', 'VideoTransformer', **_MAE_TINY, region_size=(2, 2, 2)),
    (8, 32, 32, 3),
  ),
  'videomae_vit_b': (
    _lazy(
      'mae_dfer',
      'VideoTransformer',
      embed_dim=768,
      depth=12,
      num_heads=12,
      attn_type='joint',
    ),
    (16, 160, 160, 3),
  ),  # fmt: skip
  'videomae_vit_b_tiny': (
    _lazy('mae_dfer', 'VideoTransformer', **_MAE_TINY, attn_type='joint'),
    (8, 32, 32, 3),
  ),
  # --- MAE-DFER helper entries: end ---
}


def names() -> list[str]:
  """All registered model names."""
  return sorted(_REGISTRY)


def _entry(name: str):
  if name not in _REGISTRY:
    raise ValueError(f'unknown model {name!r}; known: {", ".join(names())}')
  return _REGISTRY[name]


def create(
  name: str, num_classes: int, *, rngs: nnx.Rngs, **overrides
) -> nnx.Module:
  """Builds model `name`; `overrides` replace its architecture kwargs.

  The initialisers draw their random numbers with JAX's non-partitionable
  threefry: each initialiser is compiled on its own, and XLA:CPU compiles
  the partitionable one for a 5-D conv kernel in seconds (1.1 s an
  initialiser on average for the tiny Former-DFER, 49 s in all, against
  0.18 s and 10 s). Initialisation runs unsharded, where the two differ
  only in which numbers they draw.
  """
  factory, _ = _entry(name)
  with jax.threefry_partitionable(False):
    return factory(num_classes, rngs=rngs, **overrides)


def input_shape(name: str) -> tuple[int, int, int, int]:
  """The reference clip shape (T, H, W, 3) of model `name`."""
  return _entry(name)[1]
