"""A logging filter for the command lines (run.py, experiments).

Libraries whose INFO lines repeat every checkpoint or epoch (orbax: ~20 a
save; TFDS: one a dataset pass) or say nothing to act on (JAX looking for a
TPU, clu's progress notes: the trainer prints its own) are silenced; their
warnings still show, except the deprecation warnings TFDS triggers inside
itself (its decoders read `.dtype` and call `tf.map_fn(dtype=...)`) and its
warning about the empty folder of a dataset being prepared.
"""

import logging

_CHATTY_SOURCES = (
  '/orbax/',
  '/tensorflow_datasets/core/reader.py',
  '/tensorflow_datasets/core/logging/',
  '/tensorflow_datasets/core/dataset_builder.py',
  '/tensorflow_datasets/core/load.py',
  '/tensorflow_datasets/core/writer.py',
  '/jax/_src/xla_bridge.py',
  '/clu/platform/local.py',
)
_TFDS_WARNINGS = (
  # Seen while a dataset is first prepared, about its empty folder.
  'has no dataset_info.json',
  '`TensorInfo.dtype` is deprecated',
  '`FeatureConnector.dtype` is deprecated',
  'calling map_fn_v2 (from tensorflow.python.ops.map_fn) with dtype',
)


class QuietLibraries(logging.Filter):
  """Drops the INFO lines of `_CHATTY_SOURCES` and TFDS's own warnings."""

  def filter(self, record):
    if record.levelno >= logging.WARNING:
      message = record.getMessage()
      return not any(text in message for text in _TFDS_WARNINGS)
    return not any(source in record.pathname for source in _CHATTY_SOURCES)
