"""End-to-end runs of run.py: results, TensorBoard, SIGKILL/SIGTERM resume.

The runs use the demo config on au_faces/tiny with MAE-DFER tiny (the
fastest model to compile) for 2 epochs of 5 steps, on the 8 simulated
devices of conftest.py.
"""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from tensorflow.compat.v1 import train as tf1_train

from audfer_jax import checkpointing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 10  # au_faces/tiny: 42 clips // batch 8 = 5 steps per epoch


@pytest.fixture(scope='module')
def env(tmp_path_factory):
  cache = tmp_path_factory.mktemp('jax_cache')
  return dict(
    os.environ,
    # Later runs reuse the first run's compiled steps.
    JAX_COMPILATION_CACHE_DIR=str(cache),
    JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0',
    JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES='0',
    TFDS_DATA_DIR=str(tmp_path_factory.mktemp('tfds')),
  )


def _start(workdir, env, *overrides):
  args = [
    sys.executable,
    os.path.join(ROOT, 'run.py'),
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


def _wait_for(predicate, proc, timeout=300):
  start = time.time()
  while not predicate():
    assert proc.poll() is None, 'the run ended early'
    assert time.time() - start < timeout
    time.sleep(0.05)


def _steps(workdir):
  return sorted(
    int(os.path.basename(d))
    for d in glob.glob(os.path.join(workdir, 'checkpoints', '*'))
    if os.path.basename(d).isdigit()
  )


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory, env):
  workdir = tmp_path_factory.mktemp('full')
  assert _start(workdir, env).wait(timeout=600) == 0, _log(workdir)
  return workdir


def test_results_and_tensorboard(uninterrupted):
  with open(uninterrupted / 'results.json') as f:
    results = json.load(f)
  final, best = results['final'], results['best']
  assert final['step'] == STEPS and best['step'] in (5, 10)
  cm = np.array(final['confusion_matrix'])
  assert cm.shape == (7, 7) and cm.sum() == 21  # au_faces/tiny test clips
  np.testing.assert_allclose(final['war'], np.trace(cm) / 21, rtol=1e-6)
  assert best['score'] == pytest.approx(best['war'] + best['uar'])
  log = _log(uninterrupted)
  assert 'Done: final WAR' in log
  # Orbax's per-save INFO lines are filtered out, our own progress is not.
  assert 'checkpoint_manager.py' not in log and 'train.py' in log
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


def test_kill_and_sigterm_resume_exactly(tmp_path, env, uninterrupted):
  # 1. SIGKILL once a mid-epoch checkpoint exists.
  proc = _start(tmp_path, env)
  _wait_for(lambda: _steps(tmp_path), proc)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  killed_at = _steps(tmp_path)[-1]
  assert killed_at < STEPS and not (tmp_path / 'results.json').exists()

  # 2. Restart; SIGTERM as soon as it trains: it saves and exits cleanly.
  proc = _start(tmp_path, env)
  _wait_for(lambda: 'Training steps' in _log(tmp_path), proc)
  proc.send_signal(signal.SIGTERM)
  assert proc.wait(timeout=300) == 0, _log(tmp_path)
  log = _log(tmp_path)
  assert f'Resumed from step {killed_at}.' in log
  stopped = int(log.split('Stopping at step ')[1].split()[0])
  assert stopped > killed_at and stopped in _steps(tmp_path)

  # 3. Restart again: it finishes with the uninterrupted run's results.
  assert _start(tmp_path, env).wait(timeout=600) == 0, _log(tmp_path)
  assert f'Resumed from step {stopped}.' in _log(tmp_path)
  with open(tmp_path / 'results.json') as f:
    resumed = json.load(f)
  with open(uninterrupted / 'results.json') as f:
    reference = json.load(f)
  for key in ('final', 'best'):
    for name, value in reference[key].items():
      np.testing.assert_allclose(resumed[key][name], value, atol=1e-6)


def test_nan_loss_stops_without_saving(tmp_path, env):
  proc = _start(
    tmp_path,
    env,
    '--config.learning_rate=nan',
    '--config.checkpoint_every_steps=1',
  )
  assert proc.wait(timeout=600) != 0
  assert 'not finite after step 1;' in _log(tmp_path)
  assert _steps(tmp_path) == []


def test_incompatible_checkpoint_names_the_keys(tmp_path):
  ckpt = checkpointing.Checkpointer(str(tmp_path), 1)
  ckpt.save(1, {'dense': {'kernel': np.ones(3)}}, {'step': 1}, force=True)
  ckpt.close()
  ckpt = checkpointing.Checkpointer(str(tmp_path), 1)
  target = {'dense': {'kernel': np.ones(3)}, 'head': {'bias': np.ones(2)}}
  with pytest.raises(ValueError, match='head/bias'):
    ckpt.restore(1, target)
