"""Trains and evaluates an AU-DFER model.

  python run.py --config configs/demo.py --workdir /tmp/demo
  python run.py --config configs/dfew_mae.py --workdir runs/dfew_mae_f1
      --config.fold=1 --config.data_dir=/data/tfds

Any config field can be overridden with `--config.<field>=<value>`; unknown
fields are rejected. Re-running the same command resumes from the latest
checkpoint in the workdir. On several hosts pass `--distributed` (or set
AUDFER_DISTRIBUTED=1) to call `jax.distributed.initialize()`, which reads
the cluster (Slurm, Kubernetes, Cloud TPU) from the environment.
"""

import os

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from audfer_jax import quiet_logs
from audfer_jax import xla_flags

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Directory for checkpoints and logs.')
flags.DEFINE_bool(
  'distributed',
  os.environ.get('AUDFER_DISTRIBUTED', '') == '1',
  'Initialise jax.distributed (multi-host training).',
)
config_flags.DEFINE_config_file(
  'config',
  None,
  'A configs/*.py file; override fields with --config.<field>=<value>.',
  lock_config=True,
)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.get_absl_handler().addFilter(quiet_logs.QuietLibraries())
  # XLA reads its flags once, when JAX starts a backend: set them first.
  xla_flags.configure()
  # TensorFlow only feeds data: keep it off the accelerators JAX uses.
  import tensorflow as tf

  tf.config.set_visible_devices([], 'GPU')
  import jax

  if FLAGS.distributed:
    jax.distributed.initialize()
  logging.info(
    'JAX process %d of %d, %d local devices of %d.',
    jax.process_index(),
    jax.process_count(),
    jax.local_device_count(),
    jax.device_count(),
  )
  from audfer_jax import train

  train.train_and_evaluate(FLAGS.config, FLAGS.workdir)


if __name__ == '__main__':
  flags.mark_flags_as_required(['config', 'workdir'])
  app.run(main)
