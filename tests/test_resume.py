"""End-to-end runs of run.py: results, TensorBoard, SIGKILL/SIGTERM resume.

The runs use the demo config on au_faces/tiny with MAE-DFER tiny (the
fastest model to compile) for 2 epochs of 5 steps, on the 8 simulated
devices of conftest.py.
"""

import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from tensorboard.plugins.hparams import plugin_data_pb2
import tensorflow as tf
from tensorflow.compat.v1 import train as tf1_train

from audfer_jax import checkpointing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 10  # au_faces/tiny: 42 clips // batch 8 = 5 steps per epoch
# A run takes about a minute on an idle 2-core machine; allow for one three
# times slower and busy with other tests.
TIMEOUT = 900


@pytest.fixture(scope='module')
def env(tmp_path_factory):
  return dict(
    os.environ,
    # tests/paused_run.py imports this checkout's audfer_jax and builders.
    PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, 'datasets')]),
    TFDS_DATA_DIR=str(tmp_path_factory.mktemp('tfds')),
    # Empty: the first run compiles, the later ones load (the demo's
    # xla_preset 'none' makes its programs cacheable).
    JAX_COMPILATION_CACHE_DIR=str(tmp_path_factory.mktemp('jax_cache')),
    JAX_LOG_COMPILES='1',  # for _train_step_compiles
  )


def _start(workdir, env, *overrides, pause_after=None):
  """Starts run.py; with `pause_after`, it holds after that checkpoint."""
  script = 'run.py'
  if pause_after is not None:
    env = dict(env, PAUSE_AFTER_SAVE=pause_after)
    script = 'tests/paused_run.py'
  args = [
    sys.executable,
    os.path.join(ROOT, script),
    '--config',
    os.path.join(ROOT, 'configs/demo.py'),
    # Relative, as in the README's `--workdir workdir/demo` (orbax needs the
    # trainer to make it absolute).
    '--workdir',
    os.path.basename(workdir),
    '--config.dataset=au_faces/tiny',
    '--config.model=mae_dfer_tiny',
    '--config.num_epochs=2',
    '--config.batch_size=8',
    '--config.eval_batch_size=8',
    '--config.checkpoint_every_steps=2',
    '--config.log_every_steps=1',
    *overrides,
  ]
  with open(os.path.join(workdir, 'log.txt'), 'wb') as log:
    return subprocess.Popen(
      args, cwd=os.path.dirname(workdir), env=env, stdout=log, stderr=log
    )


def _log(workdir):
  """The log of the latest run in `workdir`."""
  with open(os.path.join(workdir, 'log.txt')) as f:
    return f.read()


def _failure(what, workdir):
  tail = '\n'.join(_log(workdir).splitlines()[-40:])
  return f'{what}. The end of {workdir}/log.txt:\n{tail}'


def _finish(proc, workdir, what):
  """Waits for the run; its exit code, or a failure naming `what`."""
  try:
    return proc.wait(timeout=TIMEOUT)
  except subprocess.TimeoutExpired:
    proc.kill()
    proc.wait()
    pytest.fail(_failure(f'{what}: no exit within {TIMEOUT} s', workdir))


def _wait_for_line(text, proc, workdir, what):
  """Polls the log until the run prints `text`."""
  deadline = time.monotonic() + TIMEOUT
  while text not in _log(workdir):
    if proc.poll() is not None:
      pytest.fail(_failure(f'{what}: exited {proc.returncode} first', workdir))
    if time.monotonic() > deadline:
      proc.kill()
      proc.wait()
      pytest.fail(_failure(f'{what}: not within {TIMEOUT} s', workdir))
    time.sleep(0.05)


def _train_step_compiles(workdir):
  """How often the latest run in `workdir` compiled its train step."""
  return _log(workdir).count('Finished XLA compilation of jit(train_step)')


def _summary_steps(workdir):
  """{tag: [step of each point]} over all the event files of `workdir`."""
  steps = {}
  for path in glob.glob(os.path.join(workdir, 'events.out.tfevents.*')):
    for event in tf1_train.summary_iterator(path):
      for value in event.summary.value:
        steps.setdefault(value.tag, []).append(event.step)
  return steps


def _hparams(workdir):
  """The hyper-parameters recorded for TensorBoard's HParams tab."""
  for path in glob.glob(os.path.join(workdir, 'events.out.tfevents.*')):
    for event in tf1_train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == '_hparams_/session_start_info':
          data = plugin_data_pb2.HParamsPluginData.FromString(
            value.metadata.plugin_data.content
          )
          return dict(data.session_start_info.hparams)
  return None


def _steps(workdir):
  return sorted(
    int(os.path.basename(d))
    for d in glob.glob(os.path.join(workdir, 'checkpoints', '*'))
    if os.path.basename(d).isdigit()
  )


def _system_tmp(workdir):
  """The system temp dir (TMPDIR) of the run in `workdir`."""
  return workdir.parent / f'{workdir.name}-tmp'


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory, env):
  workdir = tmp_path_factory.mktemp('full')
  _system_tmp(workdir).mkdir()
  env = dict(env, TMPDIR=str(_system_tmp(workdir)))
  rc = _finish(_start(workdir, env), workdir, 'uninterrupted run')
  assert rc == 0, _failure(f'uninterrupted run: exit code {rc}', workdir)
  return workdir


def test_no_files_left_outside_the_workdir(uninterrupted):
  # Neither AutoGraph's __autograph_generated_file*.py (even a killed run's:
  # nothing is converted) nor the empty tmp*tfds of preparing au_faces.
  assert not list(_system_tmp(uninterrupted).iterdir())


def test_results_and_tensorboard(uninterrupted):
  with open(uninterrupted / 'results.json') as f:
    results = json.load(f)
  final, best = results['final'], results['best']
  assert final['step'] == STEPS and best['step'] in (5, 10)
  cm = np.array(final['confusion_matrix'])
  assert cm.shape == (7, 7) and cm.sum() == 21  # au_faces/tiny test clips
  np.testing.assert_allclose(final['war'], np.trace(cm) / 21, rtol=1e-6)
  assert best['score'] == pytest.approx(best['war'] + best['uar'])
  # The paper's epoch (config.reported_epoch: the demo's Former-DFER recipe
  # reports the best epoch), marked as selected on the test split.
  assert results['reported'] == 'best'
  assert results['selected_on'] == {'best': 'test'}
  assert 'best_val' not in results
  log = _log(uninterrupted)
  assert 'Done: final WAR' in log
  # Compiled while the model was built, and that compile is the one used.
  assert _train_step_compiles(uninterrupted) == 1
  # Orbax's per-save INFO lines are filtered out, our own progress is not
  # (absl's INFO lines start with 'I' and the month and day).
  info_from = set(re.findall(r'^I\d{4} [^\]]* (\w+\.py):\d+\]', log, re.M))
  assert (
    'checkpoint_manager.py' not in info_from and 'train_loop.py' in info_from
  )
  assert _steps(uninterrupted)[-1] == STEPS
  assert os.listdir(uninterrupted / 'best')
  tags = set()
  for path in glob.glob(str(uninterrupted / 'events.out.tfevents.*')):
    for event in tf1_train.summary_iterator(path):
      tags.update(v.tag for v in event.summary.value)
  expected = {
    'train/loss',
    'train/expr_loss',
    'train/au_loss',
    'train/lr',
    'train/clips_per_sec',
    'eval/war',
    'eval/uar',
    'eval/au_f1',
    'eval/confusion_matrix',
    'knowledge',
  }
  assert expected <= tags, expected - tags
  hparams = _hparams(uninterrupted)
  assert hparams['model'].string_value == 'mae_dfer_tiny'
  assert hparams['augment.flip'].bool_value is True
  assert hparams['batch_size'].number_value == 8
  # The console: progress and one line per evaluation; where results are.
  assert re.search(r'step \d+/10 \(\d+%\)', log)
  assert len(re.findall(r'\] Epoch \d/2 \(step', log)) == 2
  assert f'Results: {uninterrupted}/results.json' in log


def test_validation_selects_best_val(tmp_path, env):
  workdir = tmp_path / 'val'
  workdir.mkdir()
  proc = _start(workdir, env, '--config.validation_fraction=0.25')
  rc = _finish(proc, workdir, 'validation run')
  assert rc == 0, _failure(f'validation run: exit code {rc}', workdir)
  with open(workdir / 'results.json') as f:
    results = json.load(f)
  best_val = results['best_val']
  assert results['selected_on'] == {'best': 'test', 'best_val': 'validation'}
  # 42 clips, per class round(n / 4) held out (11; test_input_pipeline
  # checks the counts): 31 // 8 = 3 steps an epoch, evaluated at 3 and 6.
  log = _log(workdir)
  assert 'Validation: 11 clips held out' in log, _failure('no split', workdir)
  assert results['final']['step'] == 6 and best_val['step'] in (3, 6)
  # Its test metrics are the test evaluation logged at its step, its
  # validation metrics the validation one.
  scalars = {}
  for path in glob.glob(str(workdir / 'events.out.tfevents.*')):
    for event in tf1_train.summary_iterator(path):
      for value in event.summary.value:
        if not value.tag.startswith(('eval/', 'val/')):
          continue
        if value.tag == 'eval/confusion_matrix':
          continue
        scalars[value.tag, event.step] = float(
          tf.make_ndarray(value.tensor)
          if value.HasField('tensor')
          else value.simple_value
        )
  step = best_val['step']
  for key in ('war', 'uar', 'au_f1'):
    assert best_val[key] == pytest.approx(scalars[f'eval/{key}', step])
    assert best_val['val'][key] == pytest.approx(scalars[f'val/{key}', step])
  vals = {s: scalars['val/war', s] + scalars['val/uar', s] for s in (3, 6)}
  assert vals[step] == max(vals.values())
  assert best_val['val']['score'] == pytest.approx(vals[step], rel=1e-6)


def test_kill_and_sigterm_resume_exactly(tmp_path, env, uninterrupted):
  # 0. What a run killed before its first checkpoint leaves: empty
  # checkpoint folders and the summaries of its first steps.
  (tmp_path / 'checkpoints').mkdir()
  (tmp_path / 'best').mkdir()
  writer = tf.summary.create_file_writer(str(tmp_path))
  with writer.as_default():
    for step in (1, 2, 3):
      tf.summary.scalar('train/loss', 9.0, step=step)
  writer.close()
  # 1. SIGKILL while the run holds after saving its best model at the
  # evaluation of step 5, before the periodic checkpoint of step 6.
  _system_tmp(tmp_path).mkdir()
  killed_env = dict(env, TMPDIR=str(_system_tmp(tmp_path)))
  proc = _start(tmp_path, killed_env, pause_after='best/5')
  _wait_for_line('Paused after best/5.', proc, tmp_path, '1. first run')
  assert 'an earlier run stopped before saving one): starting at step 0.' in (
    _log(tmp_path)
  )
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert _steps(tmp_path) == [2, 4], _failure('1. after SIGKILL', tmp_path)
  assert not (tmp_path / 'results.json').exists()
  # Only a clean exit removes AutoGraph's files: none may be written.
  assert not list(_system_tmp(tmp_path).iterdir())

  # 2. Restart: it resumes from step 4, drops best/5 (saved after step 4)
  # and evaluates step 5 again. SIGTERM while it holds after the checkpoint
  # of step 6: it saves the step it is in (7) and exits cleanly.
  proc = _start(tmp_path, env, pause_after='checkpoints/6')
  _wait_for_line('Paused after checkpoints/6.', proc, tmp_path, '2. restart')
  proc.send_signal(signal.SIGTERM)
  rc = _finish(proc, tmp_path, '2. after SIGTERM')
  log = _log(tmp_path)
  assert rc == 0, _failure(f'2. after SIGTERM: exit code {rc}', tmp_path)
  assert 'Resumed from step 4.' in log, _failure('2. no resume', tmp_path)
  assert 'Discarded best/5: saved after step 4.' in log, _failure(
    '2. best/5 kept', tmp_path
  )
  assert 'Stopping at step 7 (SIGTERM)' in log, _failure('2. stop', tmp_path)
  assert 7 in _steps(tmp_path), _failure('2. no checkpoint 7', tmp_path)

  # 3. Restart again: it finishes with the uninterrupted run's results.
  rc = _finish(_start(tmp_path, env), tmp_path, '3. last restart')
  assert rc == 0, _failure(f'3. last restart: exit code {rc}', tmp_path)
  assert 'Resumed from step 7.' in _log(tmp_path), _failure('3.', tmp_path)
  assert _train_step_compiles(tmp_path) == 1  # also for a restored state
  # The earlier runs left the compiled step in the compilation cache.
  assert "Persistent compilation cache hit for 'jit_train_step'" in _log(
    tmp_path
  )
  with open(tmp_path / 'results.json') as f:
    resumed = json.load(f)
  with open(uninterrupted / 'results.json') as f:
    reference = json.load(f)
  for key in ('final', 'best'):
    for name, value in reference[key].items():
      np.testing.assert_allclose(resumed[key][name], value, atol=1e-6)
  # After three starts (and the killed run of 0.), each point is in the
  # event files once.
  steps = _summary_steps(tmp_path)
  assert sorted(steps['train/loss']) == list(range(1, STEPS + 1)), steps
  assert sorted(steps['eval/war']) == [5, 10], steps
  assert steps['knowledge'] == [0], steps
  assert steps['_hparams_/session_start_info'] == [0], steps


def test_nan_loss_stops_without_saving(tmp_path, env):
  proc = _start(
    tmp_path,
    env,
    '--config.learning_rate=nan',
    '--config.checkpoint_every_steps=1',
  )
  assert _finish(proc, tmp_path, 'NaN run') != 0
  assert 'not finite after step 1;' in _log(tmp_path), _failure('NaN', tmp_path)
  assert _steps(tmp_path) == []


def test_incompatible_checkpoint_names_the_keys(tmp_path):
  ckpt = checkpointing.Checkpointer(str(tmp_path), 1)
  ckpt.save(1, {'dense': {'kernel': np.ones(3)}}, {'step': 1}, force=True)
  ckpt.close()
  ckpt = checkpointing.Checkpointer(str(tmp_path), 1)
  target = {'dense': {'kernel': np.ones(3)}, 'head': {'bias': np.ones(2)}}
  with pytest.raises(ValueError, match='head/bias'):
    ckpt.restore(1, target)
