"""The runs of an experiment: names, settings, configs and state on disk.

Light on purpose (ml_collections and absl only, no TensorFlow or JAX): the
command line is checked with it before anything heavy is imported, and
`report` reads experiments with it.

An experiment directory holds `plan.json` (the command and its runs) and
one subdirectory per run, named after the run's settings in a fixed order:
`<arm>/<field>=<value>/.../seed_<s>/fold_<k>` (only the parts the command
varies). `audfer_jax.workdir` owns both layouts: each run directory holds
`config.json`, `run.json` (settings, git revision, class names) and what
`train_loop.train_and_evaluate` writes there (`results.json` once finished).
"""

import copy
import dataclasses
import itertools
import json
import os
import subprocess

from absl import flags
from ml_collections import config_flags

from audfer_jax import workdir as workdir_lib
from audfer_jax.data import folds as folds_lib
from audfer_jax.process import cli

BASELINE = 'baseline'
AU_DFER = 'au_dfer'
# Fields the baseline (au_lambda = 0) does not depend on: `compare --field`
# varies the AU-DFER arm only and trains the baseline once per seed and fold.
METHOD_FIELDS = ('au_lambda', 'knowledge', 'pos_weight', 'pos_weight_preset')
# Settings that replicate a variant (averaged over) rather than define one.
REPLICATES = ('seed', 'fold')
# In a --values text, the run's seed: a value per seed, such as
# `--field init_from --values none,runs/pretrain/seed_{seed}` (one
# pre-training per seed). The run's name and settings keep the text as given.
SEED = '{seed}'
# Config fields that say where things are, not how a run trains: a resumed
# run may point them elsewhere.
_LOCATIONS = ('data_dir', 'manual_dir')


class PlanError(ValueError):
  """A command line or experiment directory that cannot be run."""


@dataclasses.dataclass(frozen=True)
class Run:
  """One training (or evaluation) run of an experiment."""

  name: str  # its directory, relative to the experiment directory
  settings: dict  # ordered: arm, fields..., seed, fold (those that vary)

  def variant(self):
    """The settings that are not replicates (seed, fold)."""
    return {k: v for k, v in self.settings.items() if k not in REPLICATES}


def override(config, field, text):
  """`config` with `field` set from the text `text`, as `--config.f=t` would.

  The value is parsed by ml_collections' config flags, so it gets the
  field's type exactly as run.py's `--config.<field>=<value>` does.

  Raises:
    PlanError: naming the field when it does not exist or `text` does not
      parse as its type.
  """
  if not cli.has_field(config, field):
    raise PlanError(f'--field {field}: {cli.no_field(config, field)}')
  config = copy.deepcopy(config)
  argv = ['experiments', f'--config.{field}={text}']
  values = flags.FlagValues()
  config_flags.DEFINE_config_dict(
    'config', config, flag_values=values, sys_argv=argv
  )
  try:
    values(argv)
  except flags.Error as e:
    raise PlanError(f'--values {text!r} for --field {field}: {e}') from None
  return values.config


def with_seed(text, seed):
  """`text` with each `SEED` ('{seed}') replaced by `seed`."""
  return text.replace(SEED, str(seed))


def split_values(text):
  """'0,0.1' -> ['0', '0.1']; commas inside () or [] do not split."""
  parts, depth, current = [], 0, ''
  for char in text:
    depth += {'(': 1, '[': 1, ')': -1, ']': -1}.get(char, 0)
    if char == ',' and depth == 0:
      parts.append(current.strip())
      current = ''
    else:
      current += char
  parts.append(current.strip())
  return parts


def parse_folds(text):
  """'1,3' -> [1, 3]; '' -> [] (all the dataset's folds: `plan_runs`)."""
  if not text:
    return []
  try:
    folds = [int(k) for k in text.split(',')]
  except ValueError:
    raise PlanError(f'--folds {text!r}: not a comma-separated list') from None
  if len(set(folds)) != len(folds):
    raise PlanError(f'--folds {text!r}: folds must be distinct numbers')
  return folds


def plan_runs(command, config, *, fields=(), folds=None, seeds=0):
  """The runs of a training command, and each one's config.

  Args:
    command: 'folds', 'sweep' or 'compare'.
    config: the base config (with the command line's overrides).
    fields: [(field, [value texts])]; several make a grid. A text's
      '{seed}' becomes the run's seed (`SEED`).
    folds: fold numbers ([]: all of the dataset's), or None for the
      config's own splits.
    seeds: how many seeds (config.seed, config.seed + 1, ...); 0: the
      config's seed only, and no `seed_<s>` level (except for compare).

  Returns:
    [(Run, config)], in the order they train.

  Raises:
    PlanError: naming what cannot be run.
  """
  if command == 'sweep' and not fields:
    raise PlanError('sweep: give at least one --field with its --values')
  if command == 'folds' or folds is not None:
    num_folds = folds_lib.num_folds(config.dataset)
    if not num_folds:
      raise PlanError(
        f'config.dataset: {config.dataset!r} has no folds; folds run the '
        f'fold protocol of {", ".join(folds_lib.datasets())}'
      )
    folds = folds or list(range(1, num_folds + 1))
    if not all(1 <= k <= num_folds for k in folds):
      text = ','.join(map(str, folds))
      raise PlanError(
        f'--folds {text!r}: folds must be distinct numbers in 1..{num_folds}'
      )
  arms = [None]
  if command == 'compare':
    if config.au_lambda == 0:
      raise PlanError(
        'config.au_lambda is 0: compare trains the baseline (0) against '
        "the config's au_lambda; set --config.au_lambda"
      )
    others = [f for f, _ in fields if f not in METHOD_FIELDS]
    if others:
      raise PlanError(
        f'compare --field {others[0]}: the baseline depends on it; compare '
        f'varies only {", ".join(METHOD_FIELDS)} (run one compare per '
        f'value of {others[0]} instead)'
      )
    arms = [BASELINE, AU_DFER]
    seeds = seeds or 1
  if seeds < 0:
    raise PlanError(f'--seeds {seeds}: must be at least 1')
  seed_list = [config.seed + i for i in range(seeds)] if seeds else [None]
  for field, texts in fields:
    if len(set(texts)) != len(texts) or '' in texts:
      raise PlanError(f'--values for --field {field}: empty or repeated')
    for text in texts:  # A typo fails now, before anything trains.
      override(config, field, with_seed(text, config.seed))
  grid = list(itertools.product(*[[(f, t) for t in ts] for f, ts in fields]))
  runs = []
  for arm in arms:
    for combination in [()] if arm == BASELINE else grid:
      for seed, fold in itertools.product(seed_list, folds or [None]):
        settings, run_config = {}, copy.deepcopy(config)
        if arm is not None:
          settings['arm'] = arm
        if arm == BASELINE:
          run_config.au_lambda = 0.0
        for field, text in combination:
          settings[field] = text
          run_seed = config.seed if seed is None else seed
          run_config = override(run_config, field, with_seed(text, run_seed))
        if seed is not None:
          settings['seed'] = seed
          run_config.seed = seed
        if fold is not None:
          settings['fold'] = fold
          folds_lib.set_fold(run_config, fold)
        runs.append((Run(run_name(settings), settings), run_config))
  return runs


def run_name(settings):
  """The run's directory: one level per setting, in `settings` order."""
  parts = []
  for key, value in settings.items():
    if key == 'arm':
      parts.append(value)
    elif key in REPLICATES:
      parts.append(f'{key}_{value}')
    else:
      parts.append(f'{key}={value}'.replace('/', '_'))
  return os.path.join(*parts) if parts else '.'


def config_json(config):
  """The config as plain JSON data (tuples become lists)."""
  return json.loads(config.to_json_best_effort())


def check_resumable(workdir, runs):
  """Refuses runs whose directory holds a run of another config.

  Raises:
    PlanError: naming the run and the first fields that differ.
  """
  for run, config in runs:
    path = workdir_lib.config_file(os.path.join(workdir, run.name))
    stored = workdir_lib.read_json(path)
    if stored is None:
      continue
    splits = stored.get('train_split'), stored.get('test_split')
    if folds_lib.selects_fold(*splits):
      # Older runs stored '' for both: the same splits as FOLD.
      stored['train_split'] = stored['test_split'] = folds_lib.FOLD
    new = config_json(config)
    differ = [
      k
      for k in sorted(set(stored) | set(new))
      if k not in _LOCATIONS and stored.get(k) != new.get(k)
    ]
    if differ:
      shown = ', '.join(
        f'{k}: {stored.get(k)!r} there, {new.get(k)!r} now' for k in differ[:3]
      )
      raise PlanError(
        f'{path}: this run was started with another config ({shown}); '
        'use another --workdir or the same overrides'
      )


def write_plan(workdir, command, argv, runs):
  """Writes (or extends) `workdir/plan.json` with `runs`.

  Raises:
    PlanError: the directory holds an experiment of another command.
  """
  path = workdir_lib.plan_file(workdir)
  plan = {'command': command, 'argv': list(argv), 'runs': []}
  if os.path.exists(path):
    with open(path) as f:
      plan = json.load(f)
    if plan['command'] != command:
      raise PlanError(
        f'{path}: this directory holds a {plan["command"]} experiment; use '
        'another --workdir'
      )
    plan['argv'] = list(argv)
  known = {r['name'] for r in plan['runs']}
  for run, _ in runs:
    if run.name not in known:
      plan['runs'].append({'name': run.name, 'settings': run.settings})
  os.makedirs(workdir, exist_ok=True)
  with open(path, 'w') as f:
    json.dump(plan, f, indent=1)
  return plan


def read_plan(workdir):
  """The experiment in `workdir`: {'command', 'argv', 'runs'}.

  Raises:
    PlanError: `workdir` is missing or holds no experiment.
  """
  path = workdir_lib.plan_file(workdir)
  if not os.path.isdir(workdir):
    raise PlanError(f'{workdir}: no such directory')
  if not os.path.exists(path):
    raise PlanError(
      f'{workdir}: no experiment here (no plan.json); give the --workdir '
      'of a folds, sweep, compare or evaluate command'
    )
  with open(path) as f:
    return json.load(f)


def git_revision():
  """The repository's commit ('<hash>-dirty' with local changes)."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  try:
    out = subprocess.run(
      ['git', '-C', root, 'describe', '--always', '--dirty', '--abbrev=40'],
      capture_output=True,
      text=True,
      check=True,
    )
  except (OSError, subprocess.CalledProcessError):
    return 'unknown'
  return out.stdout.strip()
