"""run.py's command-line errors and help, checked before anything heavy.

The CLI runs in a subprocess where importing JAX or TensorFlow fails, so a
check that needed them would show up as a traceback.
"""

import socket
import time

import cli_checks
import pytest

from audfer_jax.convert import kinetics
from audfer_jax.process import cli
from configs import common
from tests import repo_command


def _run_py(*args):
  return repo_command.run_light('run.py', *args)


DEMO = ('--config', 'configs/demo.py')
CLUSTER = ('--coordinator_address=127.0.0.1:1234', '--num_processes=2')


@pytest.mark.parametrize(
  'args, message',
  [
    (
      ('--config', 'configs/nope.py', '--workdir', 'W'),
      '--config configs/nope.py: no such file',
    ),
    (
      ('--config=configs/nope.py', '--workdir', 'W', '--config.seed=1'),
      '--config configs/nope.py: no such file',
    ),
    (
      (*DEMO, '--workdir', 'W', '--config.au_lamda=0.1'),
      "--config.au_lamda: the config has no field 'au_lamda'; did you mean "
      r"'au_lambda'\?$",
    ),
    (
      (*DEMO, '--workdir', 'W', '--config.batch_sise=4'),
      "--config.batch_sise: the config has no field 'batch_sise'; did you "
      r"mean 'batch_size'\?$",
    ),
    (
      (*DEMO, '--workdir', 'W', '--config.augment.flop=0'),
      "--config.augment.flop: the config has no field 'augment.flop'; did "
      r"you mean 'augment.flip'\?$",
    ),
    (
      (*DEMO, '--workdir', 'W', '--config.augment.mixpu=0.2'),
      "--config.augment.mixpu: the config has no field 'augment.mixpu'; did "
      r"you mean 'augment.mixup'\?$",
    ),
    (
      (*DEMO, '--workdir', 'W', '--config.zzzqqq=1'),
      "--config.zzzqqq: the config has no field 'zzzqqq'$",
    ),
    (
      (*DEMO, '--workdir', 'W', '--config.batch_size=big'),
      "flag --config.batch_size=big: invalid literal for int.*'big'",
    ),
    (DEMO, r'--workdir is required \(python run.py --help\)'),
    (('--workdir', 'W'), '--config is required'),
    ((*DEMO, '--workdir', 'W', 'more'), 'unexpected arguments: more'),
    (
      (*DEMO, '--workdir', 'W', '--coordinator_address=h:1', '--process_id=0'),
      '--coordinator_address, --num_processes and --process_id go together',
    ),
    (
      (*DEMO, '--workdir', 'W', *CLUSTER, '--process_id=2'),
      r'--process_id 2: must be in \[0, 2\) for --num_processes 2',
    ),
    (
      (*DEMO, '--workdir', 'W', *CLUSTER, '--process_id=-1'),
      r'--process_id -1: must be in \[0, 2\)',
    ),
    (
      (*DEMO, '--workdir', 'W', '--coordinator_address=10.0.0.1', *CLUSTER[1:])
      + ('--process_id=0',),
      "--coordinator_address '10.0.0.1': expected host:port",
    ),
    (
      (*DEMO, '--workdir', 'W', '--coordinator_address=h:99999', *CLUSTER[1:])
      + ('--process_id=0',),
      "--coordinator_address 'h:99999': expected host:port",
    ),
    (
      (*DEMO, '--workdir', 'W', '--num_processes=two'),
      "flag --num_processes=two: invalid literal for int.*'two'",
    ),
    (
      (*DEMO, '--workdir', 'W', '--coordinator_timeout=0'),
      '--coordinator_timeout 0: must be positive',
    ),
    (
      (*DEMO, '--workdir', 'W', '--heartbeat_timeout=-5'),
      '--heartbeat_timeout -5: must be positive',
    ),
    (
      (*DEMO, '--workdir', 'W', '--config.xla_preset=fast'),
      "config.xla_preset: XLA flag preset 'fast' is unknown; known: default, "
      'none',
    ),
    (
      (*DEMO, '--workdir', 'W', '--wokdir=X'),
      "Unknown command line flag 'wokdir'",
    ),
    (
      (*DEMO, '--workdir', 'W', '--config.reported_epoch=last'),
      "config.reported_epoch: 'last' is not one of 'final', 'best'$",
    ),
    (
      (
        *('--config', 'configs/pretrain_mae_dfer.py', '--workdir', 'W'),
        '--config.augment.on_device=True',
      ),
      "config.augment.crop: 'group_multiscale' runs in the host's tf.data "
      r'only; set --config.augment.on_device=False$',
    ),
    (
      (*DEMO, '--workdir', 'W', '--config.wd_exempt=token'),
      "config.wd_exempt: 'token' is not one of 'tokens', 'mae_dfer_upstream'$",
    ),
    (
      (*DEMO, '--workdir', 'W', '--config.validation_fraction=1.0'),
      r'config.validation_fraction: 1.0 is not in \[0, 1\) \(the fraction',
    ),
    (
      (*DEMO, '--workdir', 'W', '--config.validation_fraction=-0.1'),
      r'config.validation_fraction: -0.1 is not in \[0, 1\)',
    ),
  ],
)
def test_bad_command_lines_fail_in_one_line(tmp_path, args, message):
  args = [str(tmp_path / a) if a == 'W' else a for a in args]
  cli_checks.assert_one_line_error(_run_py(*args), message)
  assert not (tmp_path / 'W').exists()


def test_help_points_to_config_help():
  out = _run_py('--help')
  assert out.returncode == 0, out.stderr
  assert '--config_help' in out.stdout
  assert '--workdir' in out.stdout


def test_config_help_lists_fields_with_values_and_meanings():
  out = _run_py(*DEMO, '--config.au_lambda=0.5', '--config_help')
  assert out.returncode == 0, out.stderr
  lines = {line.split()[0]: line for line in out.stdout.splitlines()}
  # The demo's own value, the override, and the meanings in common.py.
  assert "--config.model='former_dfer_tiny'" in lines
  assert lines['--config.au_lambda=0.5'].endswith('0 gives the plain baseline')
  assert lines['--config.augment.random_erasing=0.0'].endswith('probability')
  assert lines['--config.center_crop=0.7'].endswith(
    'Central fraction of each side kept before any other spatial op (1: all)'
  )


def test_every_field_has_one_meaning():
  # FIELD_MEANINGS, not the comments, is what --config_help prints.
  def leaves(node, prefix=''):
    for key in node.keys():
      value = node[key]
      if hasattr(value, 'keys') and value.keys():
        yield from leaves(value, f'{prefix}{key}.')
      else:
        yield prefix + key

  meanings = cli.field_meanings()
  assert set(meanings) == set(leaves(common.get_base_config()))
  assert all(m and '\n' not in m for m in meanings.values())


def _convert(*args):
  return repo_command.run_light(
    'audfer_jax.convert', *args, blocked=('jax', 'flax', 'torch')
  )


@pytest.mark.parametrize(
  'args, message',
  [
    (('--model', 'm3dfel'), 'the following arguments are required: '),
    (
      ('--model', 'm3dfl', '--checkpoint', 'README.md', '--out', 'O'),
      '--model m3dfl: no conversion for it; the models are former_dfer, ',
    ),
    (
      ('--model', 'm3dfel', '--checkpoint', 'nope.pth', '--out', 'O'),
      '--checkpoint nope.pth: no such file',
    ),
    # A valid command line on a machine without torch.
    (
      ('--model', 'm3dfel', '--checkpoint', 'README.md', '--out', 'O'),
      r"converting needs PyTorch: pip install -e '\.\[torch\]'",
    ),
  ],
)
def test_convert_checks_arguments_before_jax_and_torch(tmp_path, args, message):
  args = [str(tmp_path / a) if a == 'O' else a for a in args]
  cli_checks.assert_one_line_error(_convert(*args), '^error: ' + message)
  assert not (tmp_path / 'O').exists()


def test_unreachable_coordinator_fails_in_bounded_time(tmp_path):
  with socket.socket() as s:  # a port nothing listens on
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
  started = time.monotonic()
  out = _run_py(
    *DEMO,
    '--workdir',
    str(tmp_path / 'W'),
    f'--coordinator_address=127.0.0.1:{port}',
    '--num_processes=2',
    '--process_id=1',
    '--coordinator_timeout=3',
  )
  # Refused for 3 s, then one line: before TensorFlow and JAX (unimportable
  # here), so not XLA's fatal log.
  assert 3 <= time.monotonic() - started < 30
  assert out.returncode == 1, out.stderr
  assert out.stderr.count('\n') == 1, out.stderr
  assert out.stderr.startswith(
    f'error: --coordinator_address 127.0.0.1:{port}: no coordinator answered '
    'within 3 s (Connection refused); is process 0 running'
  ), out.stderr


M3DFEL = ('--config', 'configs/dfew_m3dfel.py')


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
  """An empty weights cache: the Kinetics-400 weights are not converted."""
  monkeypatch.setenv(kinetics.ENV, str(tmp_path / 'weights'))


@pytest.mark.parametrize(
  'target, args',
  [
    ('run.py', (*M3DFEL, '--workdir', 'W')),
    ('audfer_jax.experiments', ('folds', *M3DFEL, '--workdir', 'W')),
    (
      'audfer_jax.experiments',
      ('sweep', *DEMO, '--workdir', 'W', '--field', 'model', '--values')
      + ('m3dfel', '--field', 'init_from', '--values', 'none,kinetics400'),
    ),
  ],
)
def test_m3dfel_without_kinetics_weights_stops_with_the_command(
  tmp_path, no_weights, target, args
):
  args = [str(tmp_path / a) if a == 'W' else a for a in args]
  out = repo_command.run_light(target, *args)
  cli_checks.assert_one_line_error(
    out,
    r"config.init_from='kinetics400': torchvision's Kinetics-400 r3d_18 "
    r'weights are not in .*/weights/r3d_18_kinetics400; get and convert '
    r'them once with `python -m audfer_jax.convert kinetics400` \(offline: '
    r'download https://download.pytorch.org/models/r3d_18-b3b3357e.pth and '
    r'add --from r3d_18-b3b3357e.pth\), or train from scratch with '
    r'--config.init_from=none$',
  )
  assert not (tmp_path / 'W').exists()


def test_experiments_check_each_runs_values(tmp_path):
  # A swept value is checked before any run starts, like the base config's.
  out = repo_command.run_light(
    'audfer_jax.experiments',
    *('sweep', *DEMO, '--workdir', str(tmp_path / 'W')),
    *('--field', 'reported_epoch', '--values', 'final,bets'),
  )
  cli_checks.assert_one_line_error(
    out, "config.reported_epoch: 'bets' is not one of 'final', 'best'$"
  )
  assert not (tmp_path / 'W').exists()


def test_init_from_none_passes_the_weights_check(tmp_path, no_weights):
  # The next check (the cluster flags) speaks: the weights check passed.
  out = _run_py(
    *M3DFEL, '--workdir', str(tmp_path / 'W'), '--config.init_from=none',
    '--coordinator_timeout=0',
  )  # fmt: skip
  cli_checks.assert_one_line_error(out, '--coordinator_timeout 0: must be')


@pytest.mark.parametrize(
  'args, blocked, message',
  [
    (('--from', 'nope.pth'), (), '--from nope.pth: no such file'),
    (('--form', 'x'), (), r'unrecognized arguments: --form x \(python -m '),
    (
      ('--from', 'README.md'),
      ('torch',),
      r"converting needs PyTorch: pip install -e '\.\[torch\]'",
    ),
  ],
)
def test_convert_kinetics400_checks_arguments_first(
  no_weights, args, blocked, message
):
  out = repo_command.run_light(
    'audfer_jax.convert',
    'kinetics400',
    *args,
    blocked=('jax', 'flax', *blocked),
  )
  cli_checks.assert_one_line_error(out, '^error: ' + message)
