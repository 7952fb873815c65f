"""The experiments commands: folds, compare, evaluate, features, reports and
their bad input.

Training runs are MAE-DFER tiny (the fastest model to compile) for a few
steps on the 8 simulated devices of conftest.py: the folds on a 5-fold DFEW
built here from dummy clips (4 clips per test set), compare on au_faces/tiny.
The command-line errors run the CLI in a subprocess where importing JAX or
TensorFlow fails, so they must be reported before either is imported.
"""

import json
import os
import pathlib
import subprocess
import sys

import cli_checks
from flax import nnx
import jax
from jax.experimental.compilation_cache import compilation_cache
import make_dummy_data
import numpy as np
import pytest
import repo_command
import tensorflow_datasets as tfds

from audfer_jax import inference
from audfer_jax import models
from audfer_jax import workdir as workdir_lib
from audfer_jax.convert import common as convert_common
from audfer_jax.experiments import driver
from audfer_jax.experiments import evaluation
from audfer_jax.experiments import figures
from audfer_jax.experiments import plan as plan_lib
from audfer_jax.experiments import report
from configs import demo

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLIPS_PER_SET = 4
# Test set k of the dummy 5-fold DFEW: clip ids 4k-3 .. 4k, labels cycling.
TEST_SETS = {
  k: {
    c: 1 + c % 7
    for c in range(CLIPS_PER_SET * (k - 1) + 1, CLIPS_PER_SET * k + 1)
  }
  for k in range(1, 6)
}


@pytest.fixture(scope='module', autouse=True)
def persistent_cache(tmp_path_factory):
  """Runs of the same shapes load each other's compiled steps from disk
  (every run jits new step functions; the tests do not set XLA's oneDNN
  flag, whose executables do not serialize)."""
  saved = {
    name: getattr(jax.config, name)
    for name in (
      'jax_compilation_cache_dir',
      'jax_persistent_cache_min_compile_time_secs',
      'jax_persistent_cache_min_entry_size_bytes',
    )
  }
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0)
  jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)
  compilation_cache.set_cache_dir(str(tmp_path_factory.mktemp('jax_cache')))
  compilation_cache.reset_cache()
  yield
  for name, value in saved.items():
    jax.config.update(name, value)
  compilation_cache.reset_cache()


def _tiny(config, data_dir, **fields):
  config.data_dir = str(data_dir)
  config.model = 'mae_dfer_tiny'
  config.batch_size = config.eval_batch_size = 8
  config.log_every_steps = 1
  config.update(fields)
  return config


def _dfew_tree():
  """16-frame DFEW clips (make_dummy_data's encoding), 4 per test set."""
  clips = [
    make_dummy_data.Clip(
      f'{make_dummy_data.DFEW_16F_DIR}/{c:05d}',
      c,
      make_dummy_data.frame_names('{n}.jpg', make_dummy_data.DFEW_16F_LENGTH),
    )
    for clips in TEST_SETS.values()
    for c in clips
  ]
  texts = {}
  for k, test, others in make_dummy_data.five_folds(TEST_SETS):
    for kind, members in (('test', test), ('train', others)):
      rows = ''.join(f'{c},{label}\n' for c, label in members.items())
      path = f'{make_dummy_data.DFEW_SPLIT_DIRS[kind]}/set_{k}.csv'
      texts[path] = 'video_name,label\n' + rows
  return make_dummy_data.Tree(clips, texts)


def _build_dfew(data_dir, manual):
  """Prepares the dummy 5-fold DFEW in `data_dir`."""
  make_dummy_data.write_tree(manual, _dfew_tree())
  builder = tfds.builder('dfew/clip_224x224_16f', data_dir=data_dir)
  builder.download_and_prepare(
    download_config=tfds.download.DownloadConfig(manual_dir=manual)
  )


def _clip_ids(data_dir, split):
  builder = tfds.builder('dfew/clip_224x224_16f', data_dir=data_dir)
  ds = builder.as_dataset(
    split=split, decoders=tfds.decode.PartialDecoding({'clip_id': True})
  )
  return {int(ex['clip_id']) for ex in tfds.as_numpy(ds)}


def _results(run_dir):
  with open(run_dir / 'results.json') as f:
    return json.load(f)


def test_fold_driver(tmp_path):
  """Every fold on its own splits, the report's means, skip and resume.

  One test: the five runs are trained once (2 steps each: 16 training clips
  / batch 8) and then checked, reported, interrupted and resumed.
  """
  data_dir = tmp_path / 'tfds'
  _build_dfew(data_dir, tmp_path / 'manual')
  config = _tiny(
    demo.get_config(),
    data_dir,
    dataset='dfew/clip_224x224_16f',
    num_epochs=1,
    checkpoint_every_steps=1,
    keep_checkpoints=5,
  )
  runs = plan_lib.plan_runs('folds', config)
  workdir = tmp_path / 'folds'
  plan_lib.write_plan(workdir, 'folds', ['folds'], runs)
  log = []
  assert driver.train_runs(workdir, runs, log.append) == 'done'
  # config.json keeps dtype 'auto' (resolved per backend where the run is
  # continued or predicted), as the runs' configs have it.
  for run, run_config in runs:
    stored = json.loads((workdir / run.name / 'config.json').read_text())
    assert stored['dtype'] == run_config.dtype == 'auto'
  # The same command again may continue the experiment.
  plan_lib.check_resumable(workdir, plan_lib.plan_runs('folds', config))
  _check_fold_splits(workdir, runs, log, data_dir)
  _check_report_means(workdir)
  _check_skip_and_resume(workdir, runs)


def _check_fold_splits(workdir, runs, log, data_dir):
  assert [r.name for r, _ in runs] == [f'fold_{k}' for k in range(1, 6)]
  assert [line.split(':')[0] for line in log[::2]] == [
    f'[{k}/5] fold_{k}' for k in range(1, 6)
  ]
  everything = set().union(*TEST_SETS.values())
  for k in range(1, 6):
    run_dir = workdir / f'fold_{k}'
    with open(run_dir / 'run.json') as f:
      info = json.load(f)
    assert info['settings'] == {'fold': k} and len(info['git']) == 1
    train = _clip_ids(data_dir, info['splits']['train'])
    test = _clip_ids(data_dir, info['splits']['test'])
    assert test == set(TEST_SETS[k])
    assert not train & test and train | test == everything
    final = _results(run_dir)['final']
    assert final['step'] == 2
    assert np.sum(final['confusion_matrix']) == CLIPS_PER_SET


def _check_report_means(workdir):
  data = report.write_report(workdir)
  finals = [_results(workdir / f'fold_{k}')['final'] for k in range(1, 6)]
  (summary,) = data['summary']
  assert summary['finished'] == 5
  war = [f['war'] for f in finals]
  assert summary['war']['mean'] == pytest.approx(sum(war) / 5)
  by_hand_std = (sum((w - sum(war) / 5) ** 2 for w in war) / 4) ** 0.5
  assert summary['war']['std'] == pytest.approx(by_hand_std)
  assert summary['uar']['mean'] == pytest.approx(
    sum(f['uar'] for f in finals) / 5
  )
  # Per class: over the folds whose test split has that class.
  for c in range(7):
    present = [
      f['per_class_accuracy'][c]
      for f in finals
      if f['per_class_accuracy'][c] >= 0
    ]
    expected = sum(present) / len(present) if present else None
    assert summary['per_class'][c]['mean'] == pytest.approx(expected)
  summed = sum(np.array(f['confusion_matrix']) for f in finals)
  np.testing.assert_array_equal(summary['confusion_matrix'], summed)
  assert summed.sum() == 20
  md = (workdir / 'report.md').read_text()
  assert '| all | 5 of 5 finished |' in md
  assert f'{100 * sum(war) / 5:.2f} ± {100 * by_hand_std:.2f}' in md
  assert 'Hap. | Sad. | Neu. | Ang. | Sur. | Dis. | Fea. | WAR | UAR' in md
  assert (workdir / 'confusion.png').exists()
  lines = (workdir / 'report.csv').read_text().splitlines()
  assert len(lines) == 6 and lines[1].startswith('fold_1,finished,1,2,')


def _check_skip_and_resume(workdir, runs):
  fold3 = workdir / 'fold_3'
  reference = _results(fold3)
  # The state a kill between steps 1 and 2 leaves: a checkpoint at step 1.
  (fold3 / 'results.json').unlink()
  for path in (fold3 / 'checkpoints' / '2', fold3 / 'best' / '2'):
    subprocess.run(['rm', '-r', str(path)], check=True)
  assert workdir_lib.run_status(fold3) == 'unfinished'
  data = report.write_report(workdir)
  (summary,) = data['summary']
  assert summary['finished'] == 4
  assert summary['not_finished'] == ['fold_3 (unfinished)']
  md = (workdir / 'report.md').read_text()
  assert '| fold_3 | unfinished (checkpoint at step 1) |' in md
  assert '| all | 4 of 5 finished |' in md

  others = {
    k: os.stat(workdir / f'fold_{k}' / 'results.json').st_mtime_ns
    for k in (1, 2, 4, 5)
  }
  log = []
  assert driver.train_runs(workdir, runs, log.append) == 'done'
  assert log[:2] + log[4:] == [
    f'[{k}/5] fold_{k}: finished, skipped' for k in (1, 2, 4, 5)
  ]
  assert log[2] == '[3/5] fold_3: resuming'
  for k, mtime in others.items():
    assert os.stat(workdir / f'fold_{k}' / 'results.json').st_mtime_ns == mtime
  resumed = _results(fold3)
  for key in ('war', 'uar', 'confusion_matrix', 'au_f1'):
    np.testing.assert_allclose(
      resumed['final'][key], reference['final'][key], atol=1e-6
    )


def test_compare_then_evaluate_and_features(tmp_path):
  """Baseline vs AU-DFER, 2 seeds, 3 steps each, on au_faces/tiny; then
  evaluate and features of one of its runs, and a model that does not fit.
  One test: the four runs are trained once."""
  config = _tiny(
    demo.get_config(),
    tmp_path / 'tfds',
    dataset='au_faces/tiny',
    num_train_steps=3,
  )
  runs = plan_lib.plan_runs('compare', config, seeds=2)
  workdir = tmp_path / 'compare'
  plan_lib.write_plan(workdir, 'compare', ['compare', '--seeds=2'], runs)
  assert driver.train_runs(workdir, runs, print) == 'done'
  _check_pairs(workdir)
  _check_evaluate_and_features(workdir, config)


def _check_pairs(workdir):
  names = ['baseline/seed_42', 'baseline/seed_43']
  names += ['au_dfer/seed_42', 'au_dfer/seed_43']
  with open(workdir / 'plan.json') as f:
    assert [r['name'] for r in json.load(f)['runs']] == names
  configs = {}
  for name in names:
    with open(workdir / name / 'config.json') as f:
      configs[name] = json.load(f)
  for seed in (42, 43):
    base = configs[f'baseline/seed_{seed}']
    audfer = configs[f'au_dfer/seed_{seed}']
    # Same seed, hence the same data order and initialisation: the configs
    # differ in the AU loss weight only.
    assert base['seed'] == audfer['seed'] == seed
    assert base['au_lambda'] == 0 and audfer['au_lambda'] == 0.25
    assert {k for k in base if base[k] != audfer[k]} == {'au_lambda'}
  data = report.write_report(workdir)
  (paired,) = data['paired']
  assert paired['variant'] == 'AU-DFER'
  diffs = []
  for seed in (42, 43):
    a = _results(workdir / f'au_dfer/seed_{seed}')['final']
    b = _results(workdir / f'baseline/seed_{seed}')['final']
    diffs.append(a['uar'] - b['uar'])
  assert [p['seed'] for p in paired['pairs']] == [42, 43]
  assert [p['uar'] for p in paired['pairs']] == pytest.approx(diffs)
  assert paired['uar']['mean'] == pytest.approx(np.mean(diffs))
  assert paired['uar']['std'] == pytest.approx(np.std(diffs, ddof=1))
  md = (workdir / 'report.md').read_text()
  assert '## AU-DFER minus baseline, same seed and fold (points)' in md
  assert '| baseline | 2 of 2 finished |' in md


def _check_evaluate_and_features(workdir, config):
  run_dir = workdir / 'au_dfer/seed_42'
  result, names, split, loaded = evaluation.evaluate(
    config, run_dir, '', 'final'
  )
  assert split == 'test' and loaded.endswith('checkpoints/3')
  assert len(names) == 7
  final = _results(run_dir)['final']
  np.testing.assert_array_equal(
    result['confusion_matrix'], final['confusion_matrix']
  )
  out, _, _, _ = evaluation.features(config, run_dir, '', 'final')
  assert out['features'].shape == (21, 64)  # au_faces/tiny test, dim 64
  counts = np.bincount(out['labels'], minlength=7)
  np.testing.assert_array_equal(counts, np.sum(final['confusion_matrix'], 1))
  accuracy = np.mean(out['predictions'] == out['labels'])
  assert accuracy == pytest.approx(final['war'])
  other = config.copy_and_resolve_references()
  other.model = 'videomae_vit_b_tiny'  # global attention, no LGI blocks
  with pytest.raises(
    ValueError,
    match=r'does not match this model: missing in the checkpoint '
    r"\['blocks/0/attn/kv/kernel'.*unexpected \['blocks/0/first_attn",
  ):
    inference.load_model(
      other, 7, run_dir, 'final', inference.create_mesh(config)
    )


def test_tsne_separates_separated_clusters(tmp_path):
  rng = np.random.default_rng(0)
  labels = np.repeat(np.arange(3), 10)
  features = rng.normal(size=(30, 16)) + 20 * np.eye(16)[labels]
  embedding = figures.tsne_embedding(features)
  assert embedding.shape == (30, 2)
  centres = np.stack([embedding[labels == c].mean(0) for c in range(3)])
  spread = max(
    np.linalg.norm(embedding[labels == c] - centres[c], axis=1).max()
    for c in range(3)
  )
  gaps = [np.linalg.norm(centres[i] - centres[j]) for i, j in ((0, 1), (1, 2))]
  assert min(gaps) > spread
  figures.save_tsne(tmp_path / 't.png', embedding, labels, 'abc', 'x')
  assert (tmp_path / 't.png').stat().st_size > 0


def test_converted_checkpoint_that_does_not_fit_names_the_keys(tmp_path):
  config = _tiny(demo.get_config(), tmp_path, dataset='au_faces/tiny')
  path = convert_common.save_converted(
    models.create('mae_dfer_tiny', 5, rngs=nnx.Rngs(0)), tmp_path / 'conv'
  )
  with pytest.raises(
    convert_common.ConversionError,
    match=r'2 mis-shaped: head/bias \(checkpoint \(5,\), model \(7,\)\)',
  ):
    inference.load_model(
      config, 7, path, 'final', inference.create_mesh(config)
    )


def _fake_run(workdir, name, settings, war=None, status='finished', extra=None):
  """A run directory as the driver leaves it, with made-up numbers;
  `extra(result)` gives more results.json entries."""
  run_dir = workdir / name
  run_dir.mkdir(parents=True)
  (run_dir / 'run.json').write_text(
    json.dumps(
      {'settings': settings, 'git': ['abc'], 'class_names': ['x', 'y']}
    )
  )
  if status == 'finished':
    result = {
      'war': war,
      'uar': war / 2,
      'au_f1': 0.5,
      'per_class_accuracy': [war, -1.0],
      'confusion_matrix': [[1, 1], [0, 0]],
      'step': 10,
    }
    (run_dir / 'results.json').write_text(
      json.dumps(
        {
          'final': result,
          'best': dict(result, war=1.0),
          **(extra(result) if extra else {}),
        }
      )
    )
  elif status == 'unfinished':
    (run_dir / 'checkpoints' / '3').mkdir(parents=True)
  else:
    (run_dir / 'failed.json').write_text(json.dumps({'error': 'E: boom'}))
  return {'name': name, 'settings': settings}


def test_sweep_report_marks_unfinished_and_failed_runs(tmp_path):
  runs = [
    _fake_run(
      tmp_path, 'au_lambda=0/seed_1', {'au_lambda': '0', 'seed': 1}, 0.5
    ),
    _fake_run(
      tmp_path, 'au_lambda=0/seed_2', {'au_lambda': '0', 'seed': 2}, 0.7
    ),
    _fake_run(
      tmp_path, 'au_lambda=0.5/seed_1', {'au_lambda': '0.5', 'seed': 1}, 0.4
    ),
    _fake_run(
      tmp_path,
      'au_lambda=0.5/seed_2',
      {'au_lambda': '0.5', 'seed': 2},
      status='unfinished',
    ),
    _fake_run(
      tmp_path,
      'au_lambda=1/seed_1',
      {'au_lambda': '1', 'seed': 1},
      status='failed',
    ),
  ]
  plan = {'command': 'sweep', 'argv': ['sweep'], 'runs': runs}
  (tmp_path / 'plan.json').write_text(json.dumps(plan))
  out = subprocess.run(
    [sys.executable, '-m', 'audfer_jax.experiments', 'report', str(tmp_path)],
    cwd=ROOT,
    capture_output=True,
    text=True,
  )
  assert out.returncode == 0, out.stderr
  assert str(tmp_path / 'report.md') in out.stdout
  with open(tmp_path / 'report.json') as f:
    data = json.load(f)
  zero, half, one = data['summary']
  assert zero['war'] == {'mean': 0.6, 'std': pytest.approx(0.02**0.5), 'n': 2}
  assert half['war']['mean'] == 0.4 and half['war']['std'] is None
  assert half['not_finished'] == ['au_lambda=0.5/seed_2 (unfinished)']
  assert one['finished'] == 0 and one['war']['mean'] is None
  assert one['per_class'][1]['n'] == 0  # class y is in no test split
  md = (tmp_path / 'report.md').read_text()
  assert '| au_lambda=0.5/seed_2 | unfinished (checkpoint at step 3) |' in md
  assert '| au_lambda=1/seed_1 | failed: E: boom |' in md
  assert '| au_lambda=0.5 | 1 of 2 finished |' in md
  assert '| au_lambda=1 | 0 of 1 finished |' in md
  # Each value against the first, seed by seed: 0.4 - 0.5 on seed 1.
  assert '## au_lambda=0.5 minus au_lambda=0, same seed and fold' in md
  assert '| au_lambda=0.5/seed_1 | -10.00 | - | -10.00 | -5.00 | 0.00 |' in md
  assert (tmp_path / 'sweep.png').exists()
  # --select best reads the best epoch's numbers.
  data = report.write_report(tmp_path, 'best')
  assert data['summary'][0]['war']['mean'] == 1.0


def test_report_names_the_papers_epoch_and_marks_test_selected(tmp_path):
  runs = [
    _fake_run(
      tmp_path,
      'seed_1',
      {'seed': 1},
      0.5,
      extra=lambda r: {
        'reported': 'best',
        'best': dict(r, war=0.9, step=5),
        'selected_on': {'best': 'test', 'best_val': 'validation'},
        'best_val': dict(r, war=0.6, step=8, val={'war': 0.7, 'uar': 0.4}),
      },
    ),
    _fake_run(
      tmp_path,
      'seed_2',
      {'seed': 2},
      0.4,
      extra=lambda r: {'reported': 'final'},
    ),
  ]
  plan = {'command': 'sweep', 'argv': ['sweep'], 'runs': runs}
  (tmp_path / 'plan.json').write_text(json.dumps(plan))
  data = report.write_report(tmp_path, 'best')
  one, two = data['runs']
  assert one['reported'] == 'best' and two['reported'] == 'final'
  assert one['test_selected'] and two['test_selected']
  assert one['selections']['best_val'] == {
    'step': 8,
    'war': 0.6,
    'uar': 0.25,
    'au_f1': 0.5,
  }
  assert 'best_val' not in two['selections']
  md = (tmp_path / 'report.md').read_text()
  assert '| seed_1 † | finished | 5 |' in md
  assert 'the best by test † evaluation of each run' in md
  assert '† selected on the test split' in md
  header = (
    "| run | paper's epoch | final | best by test † | best by validation |"
  )
  assert header in md
  assert (
    '| seed_1 | best by test † | 50.00 / 25.00 (step 10) | '
    '90.00 / 25.00 (step 5) | 60.00 / 25.00 (step 8) |'
  ) in md
  assert (
    '| seed_2 | final | 40.00 / 20.00 (step 10) | 100.00 / 20.00 (step 10) | - |'
  ) in md
  # The final numbers are not marked.
  data = report.write_report(tmp_path, 'final')
  assert not any(r['test_selected'] for r in data['runs'])
  md = (tmp_path / 'report.md').read_text()
  assert '| seed_1 | finished | 10 |' in md


def test_plan_names_and_types():
  config = demo.get_config()
  runs = plan_lib.plan_runs(
    'sweep',
    config,
    fields=[('au_lambda', ['0', '0.5']), ('augment.flip', ['false', 'true'])],
    seeds=2,
  )
  assert [r.name for r, _ in runs][:3] == [
    'au_lambda=0/augment.flip=false/seed_42',
    'au_lambda=0/augment.flip=false/seed_43',
    'au_lambda=0/augment.flip=true/seed_42',
  ]
  _, last = runs[-1]
  assert last.au_lambda == 0.5 and last.augment.flip is True
  assert last.seed == 43 and isinstance(last.au_lambda, float)
  config.dataset = 'dfew/clip_224x224_16f'
  runs = plan_lib.plan_runs(
    'compare',
    config,
    fields=[('pos_weight', ['global', 'minor'])],
    folds=[1, 2],
  )
  names = [r.name for r, _ in runs]
  assert names[:2] == ['baseline/seed_42/fold_1', 'baseline/seed_42/fold_2']
  assert names[2:4] == [
    'au_dfer/pos_weight=global/seed_42/fold_1',
    'au_dfer/pos_weight=global/seed_42/fold_2',
  ]
  assert len(names) == 6


def test_a_value_per_seed():
  """'{seed}' in a value becomes each run's seed; names keep the text."""
  config = demo.get_config()
  fields = [('init_from', ['none', 'pre/seed_{seed}'])]
  runs = plan_lib.plan_runs('sweep', config, fields=fields, seeds=2)
  assert [(r.name, c.init_from) for r, c in runs] == [
    ('init_from=none/seed_42', 'none'),
    ('init_from=none/seed_43', 'none'),
    ('init_from=pre_seed_{seed}/seed_42', 'pre/seed_42'),
    ('init_from=pre_seed_{seed}/seed_43', 'pre/seed_43'),
  ]
  assert runs[3][0].variant() == {'init_from': 'pre/seed_{seed}'}
  # Without --seeds: the config's seed.
  (_, _), (run, only) = plan_lib.plan_runs('sweep', config, fields=fields)
  assert (run.name, only.init_from) == (
    'init_from=pre_seed_{seed}',
    'pre/seed_42',
  )


def _record(settings, war, status='finished'):
  """A run record as `report.collect_run` returns it (2 classes)."""
  metrics = {
    'war': war,
    'uar': war / 2,
    'au_f1': 0.5,
    'per_class_accuracy': [war, -1.0],
  }
  name = '/'.join(f'{k}={v}' for k, v in settings.items())
  return {
    'name': name,
    'settings': settings,
    'status': status,
    'metrics': metrics if status == 'finished' else None,
  }


def test_sweep_pairs_each_value_with_the_first_at_the_same_other_values():
  runs = [
    _record({'lr': '1', 'wd': '0', 'seed': 1}, 0.50),
    _record({'lr': '1', 'wd': '0', 'seed': 2}, 0.60),
    _record({'lr': '1', 'wd': '1', 'seed': 1}, 0.30),
    _record({'lr': '1', 'wd': '1', 'seed': 2}, 0.40),
    _record({'lr': '2', 'wd': '0', 'seed': 1}, 0.55),
    _record({'lr': '2', 'wd': '0', 'seed': 2}, 0.80),
    _record({'lr': '2', 'wd': '1', 'seed': 1}, 0.10),
    _record({'lr': '2', 'wd': '1', 'seed': 2}, 0.0, status='failed'),
  ]
  wd0, wd1 = report.paired_differences(runs, 2)
  assert wd0['variant'] == 'lr=2 wd=0' and wd0['reference'] == 'lr=1 wd=0'
  assert [p['reference'] for p in wd0['pairs']] == [
    'lr=1/wd=0/seed=1',
    'lr=1/wd=0/seed=2',
  ]
  # Seed 1: 0.55 - 0.50; seed 2: 0.80 - 0.60.
  assert [p['war'] for p in wd0['pairs']] == pytest.approx([0.05, 0.20])
  assert wd0['war']['mean'] == pytest.approx(0.125)
  assert wd0['war']['std'] == pytest.approx(0.15 / 2**0.5)
  assert wd0['per_class'][1]['n'] == 0  # absent class: no difference
  assert wd1['reference'] == 'lr=1 wd=1'
  assert [p['war'] for p in wd1['pairs']] == pytest.approx([0.10 - 0.30])
  assert wd1['left_out'] == ['lr=2/wd=1/seed=2']
  # One run per value (no seeds or folds): nothing to pair.
  single = [_record({'lr': '1'}, 0.5), _record({'lr': '2'}, 0.6)]
  assert report.paired_differences(single, 2) == []


def _cli(*args):
  """The CLI in a process where importing JAX or TensorFlow fails."""
  return repo_command.run_light('audfer_jax.experiments', *args)


BASE = ('--config', 'configs/demo.py', '--workdir')


@pytest.mark.parametrize(
  'args, message',
  [
    (
      ('sweep', *BASE, 'W', '--field', 'au_lamda', '--values', '0'),
      "--field au_lamda: the config has no field 'au_lamda'; did you mean "
      r"'au_lambda'\?$",
    ),
    (
      ('sweep', *BASE, 'W', '--field', 'augment.mixpu', '--values', '0'),
      "--field augment.mixpu: the config has no field 'augment.mixpu'; did "
      r"you mean 'augment.mixup'\?$",
    ),
    (
      ('sweep', *BASE, 'W', '--field', 'zzzqqq', '--values', '0'),
      "--field zzzqqq: the config has no field 'zzzqqq'$",
    ),
    (
      ('sweep', *BASE, 'W', '--field', 'au_lambda', '--values', '0,x'),
      "--values 'x' for --field au_lambda: .*could not convert string to "
      "float: 'x'",
    ),
    (
      ('folds', *BASE, 'W', '--config.au_lamda=0.1'),
      "--config.au_lamda: the config has no field 'au_lamda'; did you mean "
      r"'au_lambda'\?$",
    ),
    (
      ('folds', *BASE, 'W', '--config.au_lambda=x'),
      'flag --config.au_lambda=x: could not convert',
    ),
    (('folds', *BASE, 'W'), "config.dataset: 'au_faces' has no folds"),
    (
      ('sweep', *BASE, 'W', '--field', 'xla_preset', '--values', 'none'),
      '--field xla_preset: XLA reads its flags once a process',
    ),
    (
      ('sweep', *BASE, 'W', '--config.xla_preset=fast'),
      "config.xla_preset: XLA flag preset 'fast' is unknown; known: default, "
      'none',
    ),
    (('compare', *BASE, 'W', '--config.au_lambda=0'), 'config.au_lambda is 0'),
    (
      ('evaluate', *BASE, 'W', '--checkpoint', 'configs'),
      '--checkpoint configs: neither a training workdir',
    ),
    (
      ('sweep', '--config', 'configs/nope.py', '--workdir', 'W'),
      '--config configs/nope.py: no such file',
    ),
    (('train',), "unknown command 'train'"),
    (('report', 'EMPTY'), 'EMPTY: no experiment here'),
  ],
)
def test_bad_command_lines_fail_in_one_line(tmp_path, args, message):
  (tmp_path / 'EMPTY').mkdir()
  args = [str(tmp_path / a) if a in ('W', 'EMPTY') else a for a in args]
  message = message.replace('EMPTY', str(tmp_path / 'EMPTY'))
  cli_checks.assert_one_line_error(_cli(*args), message)
  assert not (tmp_path / 'W').exists()


def test_help_lists_the_commands():
  out = subprocess.run(
    [sys.executable, '-m', 'audfer_jax.experiments', '--help'],
    cwd=ROOT,
    capture_output=True,
    text=True,
  )
  for command in (
    'folds',
    'sweep',
    'compare',
    'evaluate',
    'features',
    'report',
  ):
    assert f'\n  {command} ' in out.stdout


def test_resuming_with_another_config_is_refused(tmp_path):
  config = demo.get_config()
  runs = plan_lib.plan_runs('sweep', config, fields=[('au_lambda', ['0.5'])])
  run_dir = tmp_path / 'au_lambda=0.5'
  run_dir.mkdir()
  (run_dir / 'config.json').write_text(
    json.dumps(dict(plan_lib.config_json(runs[0][1]), learning_rate=0.1))
  )
  with pytest.raises(plan_lib.PlanError, match='learning_rate: 0.1 there'):
    plan_lib.check_resumable(tmp_path, runs)
