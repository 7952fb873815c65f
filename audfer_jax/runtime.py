"""Starting TensorFlow and JAX for a command (run.py, experiments, predict).

In this order: the project's XLA flags (read once, when JAX starts a
backend), TensorFlow without the GPUs (it only feeds data), then JAX with
its persistent compilation cache, so that a second run of the same model
loads its compiled programs instead of compiling them again
(benchmarks/README.md, start-up).
"""

import os
import sys
import warnings

from audfer_jax import xla_flags

# Where compiled programs are kept unless JAX_COMPILATION_CACHE_DIR says.
CACHE_DIR = os.path.join('~', '.cache', 'audfer_jax', 'jax_compilation_cache')
# Oldest entries go first beyond this (JAX_COMPILATION_CACHE_MAX_SIZE wins).
CACHE_MAX_BYTES = 4 << 30


def import_tensorflow():
  """`import tensorflow`, without the scikit-learn import it leads to.

  TensorFlow imports Keras at import time, and Keras imports scikit-learn
  (installed for the t-SNE of `experiments features`) for its scikit-learn
  wrappers, 1.5 s on two cores that no run uses. Keras skips them when
  scikit-learn cannot be imported, as where it is not installed; a later
  `import sklearn` works as usual.
  """
  if 'tensorflow' in sys.modules or 'sklearn' in sys.modules:
    import tensorflow as tf

    return tf
  sys.modules['sklearn'] = None  # `import sklearn` raises ImportError
  try:
    import tensorflow as tf
  finally:
    del sys.modules['sklearn']
  return tf


def start(xla_preset=None):
  """Sets the XLA flags, imports TensorFlow (data only) and JAX; returns jax.

  Call it first, before anything imports JAX or TensorFlow.

  Args:
    xla_preset: `config.xla_preset`; None/'' reads AUDFER_XLA_PRESET
      (`xla_flags.configure`).
  """
  xla_flags.configure(xla_preset)
  tf = import_tensorflow()
  tf.config.set_visible_devices([], 'GPU')
  import jax

  if jax.config.jax_compilation_cache_dir is None:
    jax.config.update(
      'jax_compilation_cache_dir', os.path.expanduser(CACHE_DIR)
    )
  if 'JAX_COMPILATION_CACHE_MAX_SIZE' not in os.environ:
    jax.config.update('jax_compilation_cache_max_size', CACHE_MAX_BYTES)
  # XLA:CPU cannot serialise a program with oneDNN calls (xla_flags); JAX
  # then warns once a program and compiles it again next time, as without
  # a cache.
  warnings.filterwarnings(
    'ignore', 'Error writing persistent compilation cache entry'
  )
  return jax
