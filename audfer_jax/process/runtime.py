"""Starting TensorFlow and JAX for a command (run.py, experiments, predict).

In this order: the project's XLA flags (read once, when JAX starts a
backend), TensorFlow without the GPUs (it only feeds data), then JAX with
its persistent compilation cache, so that a second run of the same model
loads its compiled programs instead of compiling them again
(benchmarks/README.md, start-up).
"""

import logging
import os
import re
import sys
import warnings

from audfer_jax.process import xla_flags

# Where compiled programs are kept unless JAX_COMPILATION_CACHE_DIR says.
CACHE_DIR = os.path.join('~', '.cache', 'audfer_jax', 'jax_compilation_cache')
# Oldest entries go first beyond this (JAX_COMPILATION_CACHE_MAX_SIZE wins).
CACHE_MAX_BYTES = 4 << 30
# JAX's warning when its persistent compilation cache fails.
_CACHE_WARNING = r'Error (reading|writing) persistent compilation cache entry'
_CACHE_FAILURE = re.compile(
  _CACHE_WARNING + r" for '[^']*': (?P<reason>.*)", re.S
)


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
  _report_cache_failures(jax.config.jax_compilation_cache_dir)
  return jax


def _cache_advice(reason, cache_dir):
  if 'filelock' in reason:
    return 'install the filelock package (pip install filelock)'
  if 'bad_alloc' in reason:  # XLA:CPU cannot save programs that call oneDNN
    return (
      "config.xla_preset='none' makes the programs cacheable on CPUs "
      "(XLA's own code instead of oneDNN's)"
    )
  return (
    f'check that {cache_dir} is writable, or set JAX_COMPILATION_CACHE_DIR '
    '(JAX_ENABLE_COMPILATION_CACHE=false turns the cache off)'
  )


def _report_cache_failures(cache_dir):
  """Shows the first failure of JAX's compilation cache in a run as one line
  that says what to do, and no other: JAX warns once a program."""
  previous = warnings.showwarning
  reported = []

  def show(message, category, filename, lineno, file=None, line=None):
    failure = _CACHE_FAILURE.match(str(message))
    if failure is None:
      previous(message, category, filename, lineno, file, line)
      return
    if not reported:
      reported.append(True)
      reason = failure['reason'].strip().splitlines()[0]
      logging.warning(
        'The compilation cache in %s failed (%s): compiled programs are not '
        'kept for the next run; %s.',
        cache_dir,
        reason,
        _cache_advice(reason, cache_dir),
      )

  warnings.showwarning = show
  # Shown every time, so that `show` sees each one (Python would show a
  # warning once per code line, whichever program it is about).
  warnings.filterwarnings('always', _CACHE_WARNING)
