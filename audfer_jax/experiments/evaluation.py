"""Evaluation and pooled features of a trained or converted checkpoint.

A checkpoint is either a training workdir (its `checkpoints/` latest step,
or `best/`), or an orbax checkpoint written by `python -m audfer_jax.convert`.
"""

import functools

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from audfer_jax import checkpointing
from audfer_jax import input_pipeline
from audfer_jax import train
from audfer_jax import train_loop


def load_model(config, num_classes, checkpoint, select, mesh):
  """The model of `config` with the weights of `checkpoint`, replicated.

  Args:
    select: 'final' (a workdir's latest checkpoint) or 'best' (its best/).

  Returns:
    (model, a description of what was loaded).

  Raises:
    ValueError: the checkpoint is missing or does not fit the model (naming
      the keys).
  """
  config = config.copy_and_resolve_references()
  config.init_from = ''
  with jax.set_mesh(mesh):
    model = train.create_model(config, num_classes)
    replicated = jax.NamedSharding(mesh, jax.P())
    nnx.update(model, jax.device_put(nnx.state(model), replicated))
  return model, checkpointing.load_weights(model, checkpoint, select)


def _data(config, split):
  builder = input_pipeline.get_builder(config)
  split = split or input_pipeline.resolve_splits(config)[1]
  if split not in builder.info.splits:
    raise ValueError(
      f'--split {split!r}: {config.dataset} has the splits '
      f'{sorted(builder.info.splits)}'
    )
  mesh = train.create_mesh(config)
  sharding = jax.NamedSharding(mesh, jax.P('data'))
  batches = input_pipeline.eval_batches(
    builder, split, config, train_loop.clip_shape(config), sharding
  )
  return builder, split, mesh, batches


def evaluate(config, checkpoint, split, select):
  """Metrics of `checkpoint` on `split` ('' : the config's test split).

  Returns:
    (the metrics as `train_loop.evaluate` gives them, class names, split, what
    was loaded).
  """
  builder, split, mesh, batches = _data(config, split)
  names = builder.info.features['label'].names
  model, loaded = load_model(config, len(names), checkpoint, select, mesh)
  with jax.set_mesh(mesh):
    result = train_loop.evaluate(model, batches)
  return result, names, split, loaded


@functools.partial(jax.jit, static_argnums=0)
def _feature_step(graphdef, state, video):
  b, v = video.shape[:2]  # [B, V, T, H, W, 3]: views averaged, as in eval
  model = nnx.merge(graphdef, state)
  logits, _, feature = model(
    video.reshape((b * v, *video.shape[2:])), return_feature=True
  )
  probs = jax.nn.softmax(logits.astype(jnp.float32)).reshape(b, v, -1)
  feature = feature.astype(jnp.float32).reshape(b, v, -1)
  return feature.mean(1), probs.mean(1).argmax(-1)


def features(config, checkpoint, split, select):
  """Pooled features (before the heads) of every clip of a split.

  Single-process: the batches' global arrays are read back whole.

  Returns:
    ({'features' [N, D], 'labels' [N], 'predictions' [N]}, class names,
    split, what was loaded).
  """
  builder, split, mesh, batches = _data(config, split)
  names = builder.info.features['label'].names
  model, loaded = load_model(config, len(names), checkpoint, select, mesh)
  model.eval()
  graphdef, state = nnx.split(model)
  parts = {'features': [], 'labels': [], 'predictions': []}
  with jax.set_mesh(mesh):
    for batch in batches:
      feature, predicted = _feature_step(graphdef, state, batch['video'])
      keep = np.asarray(batch['mask'])
      parts['features'].append(np.asarray(feature)[keep])
      parts['labels'].append(np.asarray(batch['label'])[keep])
      parts['predictions'].append(np.asarray(predicted)[keep])
  return {k: np.concatenate(v) for k, v in parts.items()}, names, split, loaded
