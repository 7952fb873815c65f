"""The run directory: its layout, its checkpoints, its status, its config.

A training run's directory (`run.py --workdir DIR`, or one run of an
experiment) holds:

  config.json           the config as given: what `python -m
                        audfer_jax.predict --workdir` rebuilds the model
                        from and the experiments compare on a restart
  checkpoints/<step>/   the periodic and preemption checkpoints (a run
                        resumes from the latest)
  best/<step>/          the best model by WAR + UAR
  parameters.txt        the parameter table
  results.json          once finished: {'final', 'best' (test-selected),
                        'reported', 'selected_on', 'best_val'
                        (validation_fraction)}
  confusion_matrix.png  once finished: the final confusion matrix
  run.json              experiments: settings, splits, git, class names
  failed.json           experiments: the error of a run that raised

An experiment directory holds `plan.json`, one run directory per run and
its report (`report.md`, `report.json`, `report.csv`).

Standard library only: the command lines check paths with it before
TensorFlow or JAX is imported.
"""

import json
import os

CONFIG = 'config.json'
CHECKPOINTS = 'checkpoints'
BEST = 'best'
PARAMETERS = 'parameters.txt'
RESULTS = 'results.json'
CONFUSION_MATRIX = 'confusion_matrix.png'
RUN_INFO = 'run.json'
FAILED = 'failed.json'
PLAN = 'plan.json'
# A converted checkpoint (`python -m audfer_jax.convert`) is one orbax
# checkpoint: this file marks it.
CHECKPOINT_METADATA = '_CHECKPOINT_METADATA'


def _in_workdir(name):
  def path(workdir):
    return os.path.join(workdir, name)

  path.__doc__ = f'`<workdir>/{name}`.'
  return path


config_file = _in_workdir(CONFIG)
checkpoints_dir = _in_workdir(CHECKPOINTS)
best_dir = _in_workdir(BEST)
parameters_file = _in_workdir(PARAMETERS)
results_file = _in_workdir(RESULTS)
confusion_matrix_file = _in_workdir(CONFUSION_MATRIX)
run_info_file = _in_workdir(RUN_INFO)
failed_file = _in_workdir(FAILED)
plan_file = _in_workdir(PLAN)  # an experiment directory's


def report_file(workdir, extension):
  """An experiment directory's report: 'md', 'json' or 'csv'."""
  return os.path.join(workdir, f'report.{extension}')


def steps(directory):
  """The checkpointed steps in `directory` (e.g. `checkpoints/`), sorted;
  [] when it is missing."""
  if not os.path.isdir(directory):
    return []
  return sorted(int(d) for d in os.listdir(directory) if d.isdigit())


def checkpoint_kind(path):
  """What a checkpoint path is, or None.

  'step' (`<workdir>/best/<step>` or `checkpoints/<step>`), 'directory'
  (`<workdir>/best` or `checkpoints`), 'workdir' (it has checkpoints/ or
  best/) or 'converted' (an orbax checkpoint from `python -m
  audfer_jax.convert`).
  """
  kinds = (CHECKPOINTS, BEST)
  name = os.path.basename(path.rstrip('/'))
  parent = os.path.basename(os.path.dirname(path.rstrip('/')))
  if os.path.isdir(path) and name.isdigit() and parent in kinds:
    return 'step'
  if os.path.isdir(path) and name in kinds:
    return 'directory'
  if any(os.path.isdir(os.path.join(path, d)) for d in kinds):
    return 'workdir'
  if os.path.exists(os.path.join(path, CHECKPOINT_METADATA)):
    return 'converted'
  return None


def run_status(run_dir):
  """'finished', 'failed', 'unfinished' (a checkpoint, no results) or
  'not started'."""
  if os.path.exists(results_file(run_dir)):
    return 'finished'
  if os.path.exists(failed_file(run_dir)):
    return 'failed'
  if steps(checkpoints_dir(run_dir)):
    return 'unfinished'
  return 'not started'


def read_json(path):
  """The JSON data in `path`, or None when it is missing."""
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def write_json(path, data, indent=1):
  with open(path, 'w') as f:
    json.dump(data, f, indent=indent)


def write_config(workdir, config):
  """`workdir/config.json` from an `ml_collections.ConfigDict`."""
  os.makedirs(workdir, exist_ok=True)
  with open(config_file(workdir), 'w') as f:
    f.write(config.to_json_best_effort(indent=1))


def read_config(workdir):
  """The config `workdir/config.json` records, as plain JSON data, or None
  when the run recorded none."""
  return read_json(config_file(workdir))


def write_failure(run_dir, error, trace):
  """Records why a run raised (its error line and traceback) in
  `run_dir/failed.json`."""
  os.makedirs(run_dir, exist_ok=True)
  write_json(failed_file(run_dir), {'error': error, 'traceback': trace})


def clear_failure(run_dir):
  """Forgets a failure (a retried run)."""
  if os.path.exists(failed_file(run_dir)):
    os.remove(failed_file(run_dir))
