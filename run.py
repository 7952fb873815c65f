"""Trains and evaluates an AU-DFER model, or pre-trains one.

  python run.py --config configs/demo.py --workdir /tmp/demo
  python run.py --config configs/pretrain_mae_dfer.py --workdir runs/pretrain
  python run.py --config configs/dfew_mae.py --workdir runs/dfew_mae_f1
      --config.fold=1 --config.data_dir=/data/tfds

Any config field can be overridden with `--config.<field>=<value>`; unknown
fields are rejected; `--config_help` lists the fields of the given config
with their values and meanings. Re-running the same command resumes from the latest
checkpoint in the workdir. On several hosts start one process per host:
with `--distributed` (or AUDFER_DISTRIBUTED=1) JAX reads the cluster
(Slurm, Kubernetes, Cloud TPU) from the environment; on a plain cluster pass
`--coordinator_address host:port --num_processes N --process_id i` (process
0 serves at that address).
"""

import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from audfer_jax.process import cli
from audfer_jax.process import distributed
from audfer_jax.process import quiet_logs
from audfer_jax.process import runtime

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Directory for checkpoints and logs.')
flags.DEFINE_bool(
  'distributed',
  os.environ.get('AUDFER_DISTRIBUTED', '') == '1',
  'Initialise jax.distributed from the cluster environment (Slurm, '
  'Kubernetes, Cloud TPU).',
)
flags.DEFINE_string(
  'coordinator_address',
  None,
  'host:port of process 0, on a plain cluster (with --num_processes and '
  '--process_id).',
)
flags.DEFINE_integer('num_processes', None, 'Processes in all (one a host).')
flags.DEFINE_integer('process_id', None, 'This process, 0..num_processes-1.')
flags.DEFINE_integer(
  'coordinator_timeout',
  300,
  'Seconds to wait for the coordinator and the other processes.',
)
flags.DEFINE_integer(
  'heartbeat_timeout',
  60,
  'Seconds without a sign of life after which a process of a multi-process '
  'run counts as lost: the others then stop with one line (exit code 1).',
)
config_flags.DEFINE_config_file(
  'config',
  None,
  'A configs/*.py file; override fields with --config.<field>=<value>.',
  lock_config=True,
)
flags.DEFINE_bool(
  'config_help',
  False,
  'List the fields of --config (default: configs/default.py) with their '
  'values and meanings, and exit.',
)


def _parse(argv):
  """Parses and checks the command line before anything heavy is imported."""
  argv = cli.parse_flags(argv)
  if FLAGS.config_help:
    if FLAGS['config'].value is None:
      FLAGS['config'].parse(
        os.path.join(os.path.dirname(__file__), 'configs', 'default.py')
      )
    try:
      print(cli.config_help(cli.load_config()))
    except cli.UsageError as e:
      cli.fail(str(e))
    sys.exit(0)
  for name in ('config', 'workdir'):
    if FLAGS[name].value is None:
      cli.fail(f'--{name} is required (python run.py --help)')
  if len(argv) > 1:
    cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
  try:
    cli.check_init_from(cli.load_config())
    cli.check_cluster(
      FLAGS.coordinator_address,
      FLAGS.num_processes,
      FLAGS.process_id,
      FLAGS.coordinator_timeout,
      FLAGS.heartbeat_timeout,
    )
  except cli.UsageError as e:
    cli.fail(str(e))
  return argv


def main(argv):
  del argv  # checked by _parse
  logging.get_absl_handler().addFilter(quiet_logs.QuietLibraries())
  address = FLAGS.coordinator_address
  if address and FLAGS.process_id > 0:
    try:  # before the heavy imports: a wrong address fails in seconds
      distributed.wait_for_coordinator(address, FLAGS.coordinator_timeout)
    except ConnectionError as e:
      cli.fail(str(e), code=1)
  jax = runtime.start(FLAGS.config.xla_preset)

  if FLAGS.distributed or address:
    logging.info(
      'Joining the other processes through %s (up to %d s) ...',
      address or 'the cluster environment',
      FLAGS.coordinator_timeout,
    )
    distributed.initialize(
      address,
      FLAGS.num_processes,
      FLAGS.process_id,
      FLAGS.coordinator_timeout,
      FLAGS.heartbeat_timeout,
    )
  logging.info(
    'JAX process %d of %d, %d local devices of %d.',
    jax.process_index(),
    jax.process_count(),
    jax.local_device_count(),
    jax.device_count(),
  )
  # Another process lost (killed, its host gone) stops this one in one line
  # instead of a hang in its next all-reduce.
  watch = None
  if jax.process_count() > 1:
    watch = distributed.PeerWatch(FLAGS.heartbeat_timeout)
  from audfer_jax.training import train_loop

  try:
    train_loop.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  except cli.UsageError as e:  # a config that does not fit the data
    cli.fail(str(e))
  if watch is not None:
    watch.close()


if __name__ == '__main__':
  app.run(main, flags_parser=_parse)
