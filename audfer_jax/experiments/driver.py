"""Trains the runs of an experiment one after the other, in this process.

Each run is `train_loop.train_and_evaluate` in its own directory, so it resumes
exactly as run.py does: a finished run (results.json) is skipped, an
interrupted one continues from its latest checkpoint. A run that raises is
recorded in `failed.json` and the next one starts; re-running the command
retries it.
"""

import os
import traceback

from audfer_jax import workdir as workdir_lib
from audfer_jax.data import input_pipeline
from audfer_jax.experiments import plan as plan_lib
from audfer_jax.training import train_loop


def write_run_info(run_dir, run, config, class_names):
  """Writes `config.json` (the run's config as planned: a fold's splits stay
  'fold', as `check_resumable` compares them) and `run.json` (settings, the
  resolved splits, git revisions, class names)."""
  workdir_lib.write_config(run_dir, config)
  path = workdir_lib.run_info_file(run_dir)
  info = workdir_lib.read_json(path)
  if info is None:
    info = {'name': run.name, 'settings': run.settings, 'git': []}
  # One entry per revision the run was (re)started under.
  revision = plan_lib.git_revision()
  if revision not in info['git']:
    info['git'].append(revision)
  train, test = input_pipeline.resolve_splits(config)
  info['splits'] = {'train': train, 'test': test}
  info['class_names'] = list(class_names)
  workdir_lib.write_json(path, info)


def train_runs(workdir, runs, log=print):
  """Trains every unfinished run of `runs` ([(Run, config)]) in turn.

  Returns:
    'done' when every run was tried, 'stopped' when a run stopped early on
    SIGTERM/SIGINT (after saving a checkpoint; nothing else was started).
  """
  total = len(runs)
  for i, (run, config) in enumerate(runs, 1):
    run_dir = os.path.join(workdir, run.name)
    status = workdir_lib.run_status(run_dir)
    prefix = f'[{i}/{total}] {run.name}'
    if status == 'finished':
      log(f'{prefix}: finished, skipped')
      continue
    config = config.copy_and_resolve_references()
    try:
      builder = input_pipeline.get_builder(config)
      write_run_info(run_dir, run, config, builder.info.features['label'].names)
      workdir_lib.clear_failure(run_dir)
      log(f'{prefix}: {"resuming" if status != "not started" else "training"}')
      result = train_loop.train_and_evaluate(config, run_dir)
    except Exception as e:  # A run's failure must not stop the others.
      workdir_lib.write_failure(
        run_dir, f'{type(e).__name__}: {e}', traceback.format_exc()
      )
      log(f'{prefix}: FAILED: {type(e).__name__}: {e}')
      continue
    if result is None:
      log(f'{prefix}: stopped; re-run the same command to resume')
      return 'stopped'
    final = result['final']
    log(f'{prefix}: WAR {100 * final["war"]:.2f} UAR {100 * final["uar"]:.2f}')
  return 'done'
