"""The paper's experiments as commands.

  python -m audfer_jax.experiments COMMAND --config configs/<x>.py
      --workdir DIR [--config.<field>=<value> ...] [options]

Commands:
  folds     train and evaluate every fold of DFEW or MAFW (--folds 1,3 for
            some), each in DIR/fold_<k>
  sweep     one run per value: --field au_lambda --values 0,0.1,0.25
            (several --field/--values pairs make a grid); with --seeds or
            --folds, each value minus the first, paired by seed and fold
  compare   the baseline (au_lambda 0) against AU-DFER (the config's
            au_lambda) on the same seeds (--seeds N), paired
  evaluate  evaluate --checkpoint (a training workdir, one of its
            checkpoints such as DIR/best/93, or a converted PyTorch
            checkpoint) on --split, without training
  features  pooled features of --split from --checkpoint as .npz, and
            their t-SNE (needs scikit-learn)
  report    python -m audfer_jax.experiments report DIR: rebuild DIR's
            report from its finished runs

--seeds, --folds and --field combine (e.g. compare --field pos_weight
--values global,distinct,minor --folds 1,2,3,4,5). A value's {seed} is the
run's seed (--field init_from --values none,runs/pretrain/seed_{seed}: one
pre-training per seed). Every run resumes as run.py does: re-running a
command skips the finished runs and resumes the interrupted one. Each
command ends with DIR/report.md, report.json, report.csv and figures.
"""

import importlib.util
import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from audfer_jax import workdir as workdir_lib
from audfer_jax.experiments import plan as plan_lib
from audfer_jax.process import cli
from audfer_jax.process import quiet_logs
from audfer_jax.process import runtime

COMMANDS = ('folds', 'sweep', 'compare', 'evaluate', 'features', 'report')
_TRAINING = ('folds', 'sweep', 'compare')

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'The experiment directory.')
config_flags.DEFINE_config_file(
  'config',
  None,
  'A configs/*.py file; override fields with --config.<field>=<value>.',
  lock_config=True,
)
flags.DEFINE_string('folds', None, 'Folds to run, e.g. 1,3 (default: 1..5).')
flags.DEFINE_integer('seeds', 0, 'Seeds per run: config.seed, +1, ...')
flags.DEFINE_multi_string('field', [], 'A config field to vary.')
flags.DEFINE_multi_string(
  'values',
  [],
  "Comma-separated values of the --field before it; '{seed}' in a value "
  "is the run's seed.",
)
flags.DEFINE_string('checkpoint', None, 'evaluate/features: what to load.')
flags.DEFINE_string('split', '', "evaluate/features: split ('': test).")
flags.DEFINE_enum(
  'select',
  'final',
  ['final', 'best'],
  'final: the last evaluation / latest checkpoint; best: the best epoch '
  '(by WAR + UAR on the test split, as the published code reports).',
)


def check(argv):
  """Checks the command line; returns (command, what to run).

  Nothing heavy is imported: a mistake is reported in about a second.

  Raises:
    cli.UsageError: naming the culprit.
  """
  if len(argv) < 2:
    raise cli.UsageError(f'give a command: {", ".join(COMMANDS)}')
  command, extra = argv[1], argv[2:]
  if command not in COMMANDS:
    raise cli.UsageError(
      f'unknown command {command!r}; the commands are {", ".join(COMMANDS)}'
    )
  if command == 'report':
    if len(extra) > 1 or (extra and FLAGS.workdir):
      raise cli.UsageError('report takes one directory: report DIR')
    workdir = extra[0] if extra else FLAGS.workdir
    if not workdir:
      raise cli.UsageError('report: give the experiment directory: report DIR')
    plan_lib.read_plan(workdir)
    return command, {'workdir': workdir}
  if extra:
    raise cli.UsageError(f'unexpected arguments: {" ".join(extra)}')
  for name in ('config', 'workdir'):
    if FLAGS[name].value is None:
      raise cli.UsageError(f'{command}: --{name} is required')
  config = cli.load_config()
  if 'xla_preset' in FLAGS.field:
    raise cli.UsageError(
      '--field xla_preset: XLA reads its flags once a process; run one '
      'experiment per preset'
    )
  if len(FLAGS.field) != len(FLAGS.values):
    raise cli.UsageError(
      f'{len(FLAGS.field)} --field but {len(FLAGS.values)} --values: give '
      'one --values after each --field'
    )
  fields = [
    (field, plan_lib.split_values(values))
    for field, values in zip(FLAGS.field, FLAGS.values, strict=True)
  ]
  if command in _TRAINING:
    runs = plan_lib.plan_runs(
      command,
      config,
      fields=fields,
      folds=None if FLAGS.folds is None else plan_lib.parse_folds(FLAGS.folds),
      seeds=FLAGS.seeds,
    )
    plan_lib.check_resumable(FLAGS.workdir, runs)
    for _, run_config in runs:  # --field may set these
      cli.check_values(run_config)
      cli.check_init_from(run_config)
    return command, {'workdir': FLAGS.workdir, 'config': config, 'runs': runs}
  given = [f'--{n}' for n in ('folds', 'field') if FLAGS[n].present] + (
    ['--seeds'] if FLAGS.seeds else []
  )
  if given:
    raise cli.UsageError(f'{command} does not take {", ".join(given)}')
  checkpoint = FLAGS.checkpoint
  if not checkpoint:
    raise cli.UsageError(f'{command}: --checkpoint is required')
  if workdir_lib.checkpoint_kind(os.path.expanduser(checkpoint)) is None:
    raise cli.UsageError(
      f'--checkpoint {checkpoint}: neither a training workdir (checkpoints/ '
      'or best/), one of its checkpoints (best/<step>), nor an orbax '
      'checkpoint from python -m audfer_jax.convert'
    )
  if command == 'features' and importlib.util.find_spec('sklearn') is None:
    raise cli.UsageError(
      'features needs scikit-learn: pip install scikit-learn'
    )
  return command, {
    'workdir': FLAGS.workdir,
    'config': config,
    'checkpoint': checkpoint,
  }


def _report(workdir):
  from audfer_jax.experiments import report

  report.write_report(workdir, FLAGS.select)
  print(f'Report: {workdir_lib.report_file(os.path.abspath(workdir), "md")}')


def _train(command, job):
  workdir, runs = job['workdir'], job['runs']
  plan_lib.write_plan(workdir, command, sys.argv[1:], runs)
  runtime.start(job['config'].xla_preset)
  from audfer_jax.experiments import driver

  print(f'{command}: {len(runs)} runs in {os.path.abspath(workdir)}')
  driver.train_runs(workdir, runs)
  _report(workdir)
  failed = [
    run.name
    for run, _ in runs
    if workdir_lib.run_status(os.path.join(workdir, run.name)) == 'failed'
  ]
  if failed:
    print(f'Failed (see failed.json in each): {", ".join(failed)}')
    return 1
  return 0


def _evaluate(command, job):
  runtime.start(job['config'].xla_preset)
  import numpy as np

  from audfer_jax.experiments import driver
  from audfer_jax.experiments import evaluation
  from audfer_jax.experiments import figures

  workdir, config = job['workdir'], job['config']
  fn = evaluation.evaluate if command == 'evaluate' else evaluation.features
  try:
    output, names, split, loaded = fn(
      config, job['checkpoint'], FLAGS.split, FLAGS.select
    )
  except ValueError as e:  # A checkpoint that does not fit, a bad split.
    cli.fail(str(e).replace('\n', ' '))
  print(f'{command}: {loaded} on split {split}')
  os.makedirs(workdir, exist_ok=True)
  if command == 'features':
    path = os.path.join(workdir, f'features_{split}.npz')
    np.savez(path, class_names=np.array(names), **output)
    embedding = figures.tsne_embedding(output['features'])
    figure = os.path.join(workdir, f'tsne_{split}.png')
    figures.save_tsne(
      figure, embedding, output['labels'], names, f't-SNE, {split}'
    )
    print(f'Features: {path}\nt-SNE: {figure}')
    return 0
  run = plan_lib.Run(f'evaluate_{split}', {'split': split})
  plan_lib.write_plan(workdir, command, sys.argv[1:], [(run, config)])
  run_dir = os.path.join(workdir, run.name)
  driver.write_run_info(run_dir, run, config, names)
  result = {k: np.asarray(v).tolist() for k, v in output.items()}
  workdir_lib.write_json(
    workdir_lib.results_file(run_dir),
    {'final': dict(result, step=None), 'loaded': loaded},
    indent=None,
  )
  print(f'WAR {100 * output["war"]:.2f} UAR {100 * output["uar"]:.2f}')
  _report(workdir)
  return 0


def main(argv):
  try:
    command, job = check(argv)
  except (cli.UsageError, plan_lib.PlanError) as e:
    cli.fail(str(e))
  if command == 'report':
    _report(job['workdir'])
    return 0
  logging.get_absl_handler().addFilter(quiet_logs.QuietLibraries())
  if command in _TRAINING:
    return _train(command, job)
  return _evaluate(command, job)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
