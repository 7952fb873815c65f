"""The trained model of a workdir or checkpoint, as one batched function."""

import dataclasses
import json
import os

import ml_collections
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from audfer_jax import inference
from audfer_jax import workdir as workdir_lib
from audfer_jax.data import input_pipeline


def workdir_config(workdir):
  """The config a training run recorded in `workdir/config.json`.

  Raises:
    ValueError: the run recorded none.
  """
  path = workdir_lib.config_file(workdir)
  if not os.path.isfile(path):
    raise ValueError(
      f'{path}: missing (runs before config.json was recorded): pass '
      '--config FILE --checkpoint DIR instead'
    )
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def class_names(config):
  """The expression names of the config's dataset, from its TFDS metadata."""
  builder = tfds.builder(config.dataset, data_dir=config.data_dir or None)
  return list(builder.info.features['label'].names)


@dataclasses.dataclass
class Predictor:
  """`predictor(video [B, V, T, S, S, 3])` -> (expression [B, C], AU [B, 18])
  probabilities, the views averaged as the evaluation averages them
  (`inference.forward`)."""

  config: ml_collections.ConfigDict
  shape: input_pipeline.ClipShape
  class_names: list
  loaded: str  # what the weights came from
  _model: inference.InferenceModel

  def __call__(self, video):
    out = self._model(video)
    return out.probs, out.au_probs


def load(config, checkpoint, select='best'):
  """The model of `config` with the weights of `checkpoint`.

  Raises:
    ValueError: the checkpoint is missing or holds another model (naming
      the keys).
  """
  names = class_names(config)
  model, loaded = inference.load_model(config, len(names), checkpoint, select)
  return Predictor(
    config,
    inference.clip_shape(config),
    names,
    loaded,
    inference.InferenceModel.of(model),
  )


def predict_windows(predictor, frames, spans, batch_size, on_batch=None):
  """Expression and AU probabilities of each (start, end) window of the
  JPEG `frames` (bytes), in batches of `batch_size` windows.

  Returns:
    (expression [N, C], AU [N, 18]) float numpy arrays.
  """
  jpegs = tf.constant(frames)
  starts, ends = zip(*spans, strict=True)
  ds = tf.data.Dataset.from_tensor_slices((list(starts), list(ends)))
  ds = ds.map(
    input_pipeline.as_written(
      lambda s, e: input_pipeline.eval_views(
        jpegs[s:e], predictor.config, predictor.shape
      )
    ),
    num_parallel_calls=tf.data.AUTOTUNE,
    deterministic=True,
  )
  expr, aus = [], []
  for i, batch in enumerate(
    ds.batch(batch_size).prefetch(2).as_numpy_iterator()
  ):
    n = len(batch)
    if n < batch_size:  # one compiled shape: pad the last batch
      pad = np.zeros((batch_size - n, *batch.shape[1:]), batch.dtype)
      batch = np.concatenate([batch, pad])
    e, a = predictor(batch)
    expr.append(np.asarray(e)[:n])
    aus.append(np.asarray(a)[:n])
    if on_batch is not None:
      on_batch(i + 1)
  return np.concatenate(expr), np.concatenate(aus)
