"""Model registry: one `Model` entry per model names all the project needs.

The contract of a model (tests/test_models_contract.py checks every one on
its tiny variant):

- it is an NNX module built as `cls(num_classes, *, rngs, dtype, **kwargs)`,
  its parameters float32 whatever the compute `dtype`;
- `model(video)` takes float [B, T, H, W, 3] clips of its input shape and
  returns `(expr, au)`: logits [B, num_classes] and [B, NUM_AUS] in `dtype`;
- `model(video, return_feature=True)` returns `(expr, au, feature)`, the
  pooled clip feature [B, D] that its `head` and `au_head` map to them.

A pre-training model (`task='pretrain'`, built without `num_classes`)
keeps its own contract instead: `model(video, mask)` on float clips of its
input shape and a bool mask [B, tokens] that `model.masks(key, B)` draws
returns the loss, the reconstructions and their targets
(`mae_pretrain.Reconstruction`); its encoder's weights initialise a
classifier (`convert/mae_dfer_pretrain.py`).

Each entry also registers `<name>_tiny`: reduced widths, depths and
resolution for the tests and the CPU demo. Importing the registry is light
(no JAX): `python -m audfer_jax.convert` checks `--model` against it before
JAX loads, and a model's module is imported when it is first built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import dataclasses
import functools
import importlib
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
  from flax import nnx

# Width of every AU head: OpenFace's presence AUs, `tfds_builders.facs.NUM_AUS`
# (not imported: the builders load TensorFlow Datasets, which the JAX side
# does without; the contract test checks that the two agree).
NUM_AUS = 18
# The input clip (T, H, W, 3) of every `_tiny` variant.
TINY_INPUT_SHAPE = (8, 32, 32, 3)


@dataclasses.dataclass(frozen=True)
class Model:
  """A registered model: where it lives and what the rest needs of it."""

  module: str  # audfer_jax.models.<module> defines it ...
  cls: str  # ... as this class
  input_shape: tuple[int, int, int, int]  # the reference clip (T, H, W, 3)
  tiny: Mapping[str, Any]  # `<name>_tiny`: these kwargs over `kwargs`
  converter: str  # audfer_jax.convert.<converter> maps its PyTorch weights
  kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  # The function of `module` giving each parameter its lr multiplier,
  # (model, decay) -> nnx.State, for `config.layer_decay`; None: no decay.
  lr_scales: str | None = None
  task: str = 'classify'  # or 'pretrain': no classes, the contract above


# Reduced widths/depths/resolution of the tiny variants.
TINY_WIDTHS = (8, 16, 16, 32)
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

_MODELS = {
  'r3d_18': Model(
    'r3d',
    'R3D',
    (16, 112, 112, 3),
    tiny=dict(widths=TINY_WIDTHS),
    converter='r3d',
  ),
  'm3dfel': Model(
    'm3dfel',
    'M3DFEL',
    (16, 112, 112, 3),
    tiny=dict(
      widths=TINY_WIDTHS,
      num_frames=8,
      instance_length=2,
      lstm_hidden=16,
      num_heads=2,
    ),
    converter='m3dfel',
  ),
  'former_dfer': Model(
    'former_dfer',
    'FormerDFER',
    (16, 112, 112, 3),
    tiny=FORMER_TINY,
    converter='former_dfer',
  ),
  'mae_dfer': Model(
    'mae_dfer',
    'VideoTransformer',
    (16, 160, 160, 3),
    tiny=dict(_MAE_TINY, region_size=(2, 2, 2)),
    converter='mae_dfer',
    # The transformers' layer-wise decay (MAE-DFER's LayerDecayValueAssigner).
    lr_scales='lr_scales',
  ),
  'videomae_vit_b': Model(
    'mae_dfer',
    'VideoTransformer',
    (16, 160, 160, 3),
    tiny=_MAE_TINY,
    converter='mae_dfer',
    kwargs=dict(embed_dim=768, depth=12, num_heads=12, attn_type='joint'),
    lr_scales='lr_scales',
  ),
  # MAE-DFER's pre-training model, the VoxCeleb2 script's configuration.
  # The tiny masks windows span the frame's width, so do its regions.
  'mae_dfer_pretrain': Model(
    'mae_pretrain',
    'MaskedAutoencoder',
    (16, 160, 160, 3),
    tiny=dict(
      _MAE_TINY,
      region_size=(2, 2, 4),
      decoder_dim=32,
      decoder_depth=1,
      decoder_heads=2,
      mask_ratio=0.75,
      mask_window=(2, 4),
    ),
    converter='mae_dfer_pretrain',
    task='pretrain',
  ),
}


def _lazy(module: str, attr: str, **kwargs):
  """Factory for `audfer_jax.models.<module>.<attr>(..., **kwargs)`."""

  def factory(*args, **overrides):
    cls = getattr(importlib.import_module(f'audfer_jax.models.{module}'), attr)
    return functools.partial(cls, **kwargs)(*args, **overrides)

  return factory


class _Entry(NamedTuple):
  """A registered name: a model at full size or its `_tiny` variant."""

  factory: Callable[..., nnx.Module]
  input_shape: tuple[int, int, int, int]
  lr_scales: Callable[[nnx.Module, float], nnx.State] | None
  converter: str
  task: str


def _entries(name: str, model: Model):
  """The registry's two names for `model`: itself and its `_tiny` variant."""
  scales = None
  if model.lr_scales is not None:
    scales = _lazy(model.module, model.lr_scales)
  for suffix, kwargs, shape in [
    ('', model.kwargs, model.input_shape),
    ('_tiny', {**model.kwargs, **model.tiny}, TINY_INPUT_SHAPE),
  ]:
    factory = _lazy(model.module, model.cls, **kwargs)
    entry = _Entry(factory, shape, scales, model.converter, model.task)
    yield name + suffix, entry


_REGISTRY = {
  name: entry
  for base, model in _MODELS.items()
  for name, entry in _entries(base, model)
}


def names(task: str | None = None) -> list[str]:
  """The registered model names: all, or those of `task` ('classify',
  'pretrain')."""
  return sorted(n for n, e in _REGISTRY.items() if task in (None, e.task))


def _entry(name: str) -> _Entry:
  if name not in _REGISTRY:
    raise ValueError(f'unknown model {name!r}; known: {", ".join(names())}')
  return _REGISTRY[name]


def create(
  name: str, num_classes: int | None, *, rngs: nnx.Rngs, **overrides
) -> nnx.Module:
  """Builds model `name`; `overrides` replace its architecture kwargs.

  `num_classes` is None for a pre-training model, the class count of any
  other.

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
  import jax  # Imported here: the registry stays light.

  # An unknown name or a class count that does not fit fails here, not
  # inside the trace.
  pretrain = _entry(name).task == 'pretrain'
  if pretrain != (num_classes is None):
    raise ValueError(
      f'model {name!r} is a pre-training model: build it with num_classes None'
      if pretrain
      else f'model {name!r} is a classifier: it needs num_classes'
    )
  with jax.threefry_partitionable(False):
    return _compiled_build()(
      rngs, name=name, num_classes=num_classes, overrides=_Frozen(overrides)
    )


class _Frozen(dict):
  """`overrides`, hashable, so that `_build` compiles once a model: JAX keys
  its cache of compiled programs on the static arguments."""

  def __hash__(self):
    return hash(tuple(sorted((k, repr(v)) for k, v in self.items())))


@functools.cache
def _compiled_build():
  """`_build` as one compiled program, made on first use."""
  from flax import nnx

  return nnx.jit(_build, static_argnames=('name', 'num_classes', 'overrides'))


def _build(rngs, *, name, num_classes, overrides):
  classes = () if num_classes is None else (num_classes,)
  return _entry(name).factory(*classes, rngs=rngs, **overrides)


def input_shape(name: str) -> tuple[int, int, int, int]:
  """The reference clip shape (T, H, W, 3) of model `name`."""
  return _entry(name).input_shape


def task(name: str) -> str:
  """'classify' or 'pretrain': which contract model `name` keeps."""
  return _entry(name).task


def converter(name: str) -> str:
  """The module of `audfer_jax.convert` that maps model `name`'s weights."""
  return _entry(name).converter


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
