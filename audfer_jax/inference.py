"""A model for inference and its evaluation forward.

"Load a model" is config -> model -> weights, in eval mode (`load_model`);
"the evaluation forward" is `forward`: a clip's views [B, V, T, H, W, 3]
-> expression probabilities, AU logits and probabilities, and optionally the
pooled feature, each averaged over the views. The training loop evaluates
with it (`evaluate`), the experiments evaluate and embed with it, predict
predicts with it (`InferenceModel`).

The model half (`create_model`, `forward`, `InferenceModel`) needs only JAX
and Flax: `train.py` builds its model here and the train-step benchmark runs
on GPU hosts without TensorFlow or clu. `clip_shape` (TensorFlow's input
pipeline) and `evaluate` (clu's metrics) import those where they are called.
"""

import contextlib
import dataclasses
import functools
import logging
from typing import NamedTuple

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from audfer_jax import checkpointing
from audfer_jax import models
from audfer_jax.convert import kinetics

DTYPES = ('auto', 'float32', 'bfloat16')


def resolve_dtype(name, backend=None):
  """The compute dtype that `config.dtype` names, as a string.

  'auto' is bfloat16 on GPUs and TPUs (their matmul units run it at 2x or
  more the float32 rate) and float32 on CPUs. Parameters, optimizer state,
  losses and metrics stay float32 whatever the compute dtype.

  Args:
    name: 'auto', 'float32' or 'bfloat16'.
    backend: the platform 'auto' is resolved for; default JAX's default
      backend ('cpu', 'gpu', 'tpu').
  """
  if name not in DTYPES:
    raise ValueError(
      f'config.dtype: {name!r} is not one of {", ".join(DTYPES)}.'
    )
  if name != 'auto':
    return name
  backend = backend or jax.default_backend()
  return 'float32' if backend == 'cpu' else 'bfloat16'


def create_mesh(config, devices=None):
  """A 1-D `data` mesh over `devices` (default: all devices)."""
  devices = jax.devices() if devices is None else devices
  axis_type = {
    'explicit': jax.sharding.AxisType.Explicit,
    'auto': jax.sharding.AxisType.Auto,
  }[config.mesh_axis_type]
  return jax.make_mesh(
    (len(devices),), ('data',), axis_types=(axis_type,), devices=devices
  )


def clip_shape(config):
  """The clip the model takes, with the config's overrides."""
  from audfer_jax.data import input_pipeline  # TensorFlow: see the docstring

  t, h, _, _ = models.input_shape(config.model)
  return input_pipeline.ClipShape(
    num_frames=t if config.num_frames < 0 else config.num_frames,
    size=h if config.image_size < 0 else config.image_size,
  )


def new_model(config, num_classes, dtype=None):
  """The freshly initialised model of `config.model` in its compute dtype.

  Args:
    dtype: the resolved compute dtype ('float32' or 'bfloat16'); default
      `resolve_dtype(config.dtype)` on this backend.
  """
  return models.create(
    config.model,
    num_classes,
    rngs=nnx.Rngs(config.seed),
    dtype=jnp.dtype(dtype or resolve_dtype(config.dtype)),
    **config.model_overrides,
  )


def load_initial_weights(config, model):
  """`config.init_from`: '' or 'none' (fresh), 'kinetics400' (the R3D-18
  trunk only, `convert/kinetics.py`), or a checkpoint."""
  if config.init_from in kinetics.FRESH:
    return
  if config.init_from == kinetics.NAME:
    loaded = kinetics.load_into(model)
  else:
    loaded = checkpointing.load_weights(model, config.init_from)
  logging.info('Initial weights: %s.', loaded)


def create_model(config, num_classes):
  """The model of `config.model`, initialised or loaded from `init_from`."""
  model = new_model(config, num_classes)
  load_initial_weights(config, model)
  return model


def load_model(config, num_classes, checkpoint, select='best', mesh=None):
  """The model of `config` with the weights of `checkpoint`, in eval mode.

  `config.init_from` is not loaded: the weights come from `checkpoint`.

  Args:
    select: 'final' (a workdir's latest checkpoint) or 'best' (its best/).
    mesh: if given, the model is replicated over it.

  Returns:
    (model, a description of what was loaded).

  Raises:
    ValueError: the checkpoint is missing or does not fit the model (naming
      the keys).
  """
  with jax.set_mesh(mesh) if mesh is not None else contextlib.nullcontext():
    model = new_model(config, num_classes)
    if mesh is not None:
      replicated = jax.NamedSharding(mesh, jax.P())
      nnx.update(model, jax.device_put(nnx.state(model), replicated))
  loaded = checkpointing.load_weights(model, checkpoint, select)
  model.eval()
  return model, loaded


class Prediction(NamedTuple):
  """`forward`'s outputs, averaged over a clip's views (float32)."""

  probs: jax.Array  # expression probabilities [B, C]
  au_logits: jax.Array  # [B, 18]
  au_probs: jax.Array  # sigmoid(au_logits) [B, 18]
  feature: jax.Array | None  # pooled feature [B, D], if asked for


def forward(model, video, return_feature=False):
  """The evaluation forward: clips of views [B, V, T, H, W, 3] -> a
  `Prediction` whose expression probabilities (softmax of each view), AU
  logits and feature are averaged over the views."""
  b, v = video.shape[:2]
  clips = video.reshape((b * v, *video.shape[2:]))
  out = model(clips, return_feature=True) if return_feature else model(clips)
  probs = jax.nn.softmax(out[0].astype(jnp.float32)).reshape(b, v, -1)
  au_logits = out[1].astype(jnp.float32).reshape(b, v, -1).mean(1)
  feature = None
  if return_feature:
    feature = out[2].astype(jnp.float32).reshape(b, v, -1).mean(1)
  return Prediction(
    probs.mean(1), au_logits, jax.nn.sigmoid(au_logits), feature
  )


@functools.partial(jax.jit, static_argnums=(0, 3))
def _jit_forward(graphdef, state, video, return_feature):
  return forward(nnx.merge(graphdef, state), video, return_feature)


@dataclasses.dataclass
class InferenceModel:
  """A model in eval mode as one jitted function: `model(video)` ->
  `Prediction` (`forward`, jitted over the model's state)."""

  graphdef: object
  state: object

  @classmethod
  def of(cls, model):
    """`model` in eval mode, split into graph and state."""
    model.eval()
    return cls(*nnx.split(model))

  def __call__(self, video, return_feature=False):
    return _jit_forward(
      self.graphdef, self.state, jnp.asarray(video), return_feature
    )


@functools.partial(jax.jit, static_argnums=0)
def _eval_step(graphdef, state, batch):
  from audfer_jax import metrics as metrics_lib  # clu: see the docstring

  out = forward(nnx.merge(graphdef, state), batch['video'])
  return metrics_lib.EvalMetrics.single_from_model_output(
    expr_logits=jnp.log(out.probs + 1e-12),
    au_logits=out.au_logits,
    label=batch['label'],
    au_label=batch['au_label'],
    au_valid=batch['au_valid'],
    mask=batch['mask'],
  )


def evaluate(model, batches):
  """WAR, UAR, per-class accuracy, AU F1 and confusion matrix of a split.

  Batches are padded ones (`mask`); the probabilities of a clip's views
  (`video` [B, V, T, H, W, 3]) are averaged (`forward`). The model is
  evaluated in eval mode and left in train mode (the training loop's).
  """
  model.eval()
  graphdef, state = nnx.split(model)
  model.train()
  total = None
  for batch in batches:
    m = _eval_step(graphdef, state, batch)
    total = m if total is None else total.merge(m)
  return jax.tree.map(np.asarray, total.compute())
