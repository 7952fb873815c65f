"""Evaluation and pooled features of a trained or converted checkpoint.

A checkpoint is either a training workdir (its `checkpoints/` latest step,
or `best/`), or an orbax checkpoint written by `python -m audfer_jax.convert`.
"""

import jax
import numpy as np

from audfer_jax import inference
from audfer_jax.data import input_pipeline


def _data(config, split):
  builder = input_pipeline.get_builder(config)
  split = split or input_pipeline.resolve_splits(config)[1]
  if split not in builder.info.splits:
    raise ValueError(
      f'--split {split!r}: {config.dataset} has the splits '
      f'{sorted(builder.info.splits)}'
    )
  mesh = inference.create_mesh(config)
  sharding = jax.NamedSharding(mesh, jax.P('data'))
  batches = input_pipeline.eval_batches(
    builder, split, config, inference.clip_shape(config), sharding
  )
  return builder, split, mesh, batches


def evaluate(config, checkpoint, split, select):
  """Metrics of `checkpoint` on `split` ('' : the config's test split).

  Returns:
    (the metrics as `inference.evaluate` gives them, class names, split,
    what was loaded).
  """
  builder, split, mesh, batches = _data(config, split)
  names = builder.info.features['label'].names
  model, loaded = inference.load_model(
    config, len(names), checkpoint, select, mesh
  )
  with jax.set_mesh(mesh):
    result = inference.evaluate(model, batches)
  return result, names, split, loaded


def features(config, checkpoint, split, select):
  """Pooled features (before the heads) of every clip of a split.

  Single-process: the batches' global arrays are read back whole.

  Returns:
    ({'features' [N, D], 'labels' [N], 'predictions' [N]}, class names,
    split, what was loaded).
  """
  builder, split, mesh, batches = _data(config, split)
  names = builder.info.features['label'].names
  model, loaded = inference.load_model(
    config, len(names), checkpoint, select, mesh
  )
  model = inference.InferenceModel.of(model)
  parts = {'features': [], 'labels': [], 'predictions': []}
  with jax.set_mesh(mesh):
    for batch in batches:
      # The views averaged, as in evaluation.
      out = model(batch['video'], return_feature=True)
      keep = np.asarray(batch['mask'])
      parts['features'].append(np.asarray(out.feature)[keep])
      parts['labels'].append(np.asarray(batch['label'])[keep])
      parts['predictions'].append(np.asarray(out.probs).argmax(-1)[keep])
  return {k: np.concatenate(v) for k, v in parts.items()}, names, split, loaded
