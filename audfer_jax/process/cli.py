"""Command-line checks shared by run.py and `python -m audfer_jax.experiments`.

Light on purpose (absl and ml_collections only): a mistake on the command
line is reported in about a second, on one line with exit code 2, before
TensorFlow or JAX is imported.
"""

import difflib
import os
import sys

from absl import flags
from ml_collections import config_flags

from audfer_jax.convert import kinetics
from audfer_jax.process import xla_flags

# absl's help flags.
_HELP = frozenset(('--help', '-help', '-h', '-?', '--helpshort', '--helpfull'))


# config.reported_epoch: the last evaluation, or the best WAR + UAR on the
# test split (results.json keeps both and names this one 'reported').
REPORTED_EPOCHS = ('final', 'best')
# config.augment.crop (audfer_jax/data/input_pipeline.py `_crop_window`).
CROPS = ('random_resized', 'group_multiscale')
# config.wd_exempt (audfer_jax/training/optim.py `decay_mask`).
WD_EXEMPT = ('tokens', 'mae_dfer_upstream')


class UsageError(Exception):
  """A command line that cannot run: one line, exit code 2."""


def _one_of(field, value, choices):
  """Raises UsageError when `value` of `field` is not in `choices`."""
  if value not in choices:
    raise UsageError(
      f'config.{field}: {value!r} is not one of {", ".join(map(repr, choices))}'
    )


def fail(message, code=2):
  """Prints `error: message` on stderr and exits with `code`."""
  print(f'error: {message}', file=sys.stderr)
  sys.exit(code)


def check_cluster(address, num_processes, process_id, timeout, heartbeat):
  """run.py's plain-cluster flags: all three or none, each well formed.

  Raises:
    UsageError: naming the flag and the problem.
  """
  if timeout <= 0:
    raise UsageError(f'--coordinator_timeout {timeout}: must be positive')
  if heartbeat <= 0:
    raise UsageError(f'--heartbeat_timeout {heartbeat}: must be positive')
  given = (
    address is not None,
    num_processes is not None,
    process_id is not None,
  )
  if not any(given):
    return
  if not all(given):
    raise UsageError(
      '--coordinator_address, --num_processes and --process_id go together '
      '(--distributed alone reads Slurm, Kubernetes or Cloud TPU)'
    )
  host, _, port = address.rpartition(':')
  if not host or not port.isdigit() or not 0 < int(port) < 65536:
    raise UsageError(
      f'--coordinator_address {address!r}: expected host:port, e.g. '
      '10.0.0.1:1234'
    )
  if num_processes < 1:
    raise UsageError(f'--num_processes {num_processes}: must be at least 1')
  if not 0 <= process_id < num_processes:
    raise UsageError(
      f'--process_id {process_id}: must be in [0, {num_processes}) for '
      f'--num_processes {num_processes}'
    )


def has_field(config, path):
  """True when `config` has the (dotted) field `path`."""
  node = config
  for part in path.split('.'):
    if not hasattr(node, 'keys') or part not in node:
      return False
    node = node[part]
  return True


def field_names(config, prefix=''):
  """Every (dotted) field name of `config`, nested ones included."""
  names = []
  for key in config.keys():
    names.append(prefix + key)
    if hasattr(config[key], 'keys'):
      names.extend(field_names(config[key], f'{prefix}{key}.'))
  return names


def no_field(config, path):
  """`the config has no field 'x'`, and `; did you mean 'y'?` with the
  closest field names (those as close as the closest) when any is close, as
  absl says for a misspelled flag."""
  message = f'the config has no field {path!r}'
  scored = sorted(
    (difflib.SequenceMatcher(None, path, name).ratio(), name)
    for name in field_names(config)
  )
  best = scored[-1][0] if scored else 0
  close = [n for r, n in reversed(scored) if r >= max(0.6, best - 0.05)][:3]
  if close:
    message += f'; did you mean {" or ".join(map(repr, close))}?'
  return message


def _config_path(argv):
  path = next(
    (a.split('=', 1)[1] for a in argv if a.startswith('--config=')), None
  )
  if path is None and '--config' in argv[:-1]:
    path = argv[argv.index('--config') + 1]
  return path


def _unknown_override(argv):
  values = flags.FlagValues()
  config_flags.DEFINE_config_file(
    'config', _config_path(argv), flag_values=values, sys_argv=[argv[0]]
  )
  values([argv[0]])
  for arg in argv:
    if arg.startswith('--config.'):
      field = arg[len('--config.') :].split('=', 1)[0]
      if not has_field(values.config, field):
        return f'--config.{field}: {no_field(values.config, field)}'
  return 'unknown config field'


def parse_flags(argv):
  """absl's flag parsing with its errors as one line and exit code 2.

  For `app.run(main, flags_parser=parse_flags)`.
  """
  path = _config_path(argv)
  # With overrides, ml_collections loads the file while parsing.
  if path is not None and not os.path.isfile(path.split(':')[0]):
    fail(f'--config {path}: no such file')
  try:
    return flags.FLAGS(argv)
  except SystemExit:
    # absl exits with 1 after printing --help; asking for help is no error.
    if _HELP.intersection(a.split('=')[0] for a in argv[1:]):
      sys.exit(0)
    raise
  except flags.Error as e:
    fail(str(e).splitlines()[0])
  except AttributeError:
    # ml_collections names an unknown override field only by its last part.
    fail(_unknown_override(argv))


def load_config(name='config'):
  """The config of the `--<name>` flag, resolved.

  Raises:
    UsageError: the file is missing, its `get_config()` fails, or a value
      is wrong (`check_values`).
  """
  filename = config_flags.get_config_filename(flags.FLAGS[name])
  if not os.path.isfile(filename.split(':')[0]):
    raise UsageError(f'--{name} {filename}: no such file')
  try:
    config = flags.FLAGS[name].value.copy_and_resolve_references()
  except Exception as e:  # The config file's own error, on one line.
    raise UsageError(f'--{name} {filename}: {type(e).__name__}: {e}') from e
  check_values(config)
  return config


def check_values(config):
  """The config values that are wrong whatever the data: the XLA preset,
  `reported_epoch`, `wd_exempt`, `augment.crop`, `augment.on_device` (and
  the two together) and `validation_fraction`. run.py, the experiments
  command (each run's config) and `train_loop.train_and_evaluate` call it.

  Raises:
    UsageError: naming the field and the problem.
  """
  try:
    xla_flags.check_preset(config.get('xla_preset'))
  except ValueError as e:
    raise UsageError(f'config.xla_preset: {e}') from e
  _one_of('reported_epoch', config.get('reported_epoch'), REPORTED_EPOCHS)
  _one_of('wd_exempt', config.get('wd_exempt'), WD_EXEMPT)
  crop = config.augment.get('crop')
  _one_of('augment.crop', crop, CROPS)
  on_device = config.augment.get('on_device')
  if not (isinstance(on_device, bool) or on_device == 'auto'):
    raise UsageError(
      f"config.augment.on_device: {on_device!r} is not True, False or 'auto'"
    )
  # 'auto' keeps this crop on the host (input_pipeline.augments_on_device).
  if crop == 'group_multiscale' and on_device is True:
    raise UsageError(
      "config.augment.crop: 'group_multiscale' runs in the host's tf.data "
      'only; set --config.augment.on_device=False'
    )
  fraction = config.get('validation_fraction')
  if not 0 <= fraction < 1:
    raise UsageError(
      f'config.validation_fraction: {fraction} is not in [0, 1) (the '
      'fraction of the training split held out; 0: none)'
    )


def check_init_from(config):
  """Named initial weights (`init_from='kinetics400'`) must be converted
  before a run starts: before the data, the model and the heavy imports.
  run.py, the experiments command and `train_loop.train_and_evaluate` call
  it (the one place of this rule).

  Raises:
    UsageError: saying which command converts them.
  """
  problem = kinetics.missing_message(config.get('init_from'))
  if problem:
    raise UsageError(problem)


def field_meanings():
  """{field: its one-line meaning}: `configs/common.py`'s FIELD_MEANINGS
  ({} where the configs folder is not importable)."""
  try:
    from configs import common  # the config files import it too
  except ImportError:
    return {}
  return common.FIELD_MEANINGS


def config_help(config):
  """Every field of `config` with its value and meaning, one a line."""
  meanings = field_meanings()
  lines = []

  def walk(node, prefix):
    for key in sorted(node.keys()):
      value = node[key]
      if hasattr(value, 'keys') and value.keys():
        walk(value, f'{prefix}{key}.')
        continue
      if hasattr(value, 'to_dict'):  # an empty ConfigDict: not YAML's '{}\n'
        value = value.to_dict()
      meaning = meanings.get(prefix + key, '')
      if not meaning and prefix == 'model_overrides.':
        meaning = f'`models.create` keyword argument {key}'
      line = f'  --config.{prefix}{key}={value!r}'
      lines.append(f'{line:<44} {meaning}'.rstrip())

  walk(config, '')
  return '\n'.join(lines)
