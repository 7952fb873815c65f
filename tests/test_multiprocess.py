"""run.py in two real processes (jax.distributed, gloo) against one process.

Two processes of 2 CPU devices each train R3D-18 tiny (BatchNorm) on
au_faces/tiny with the demo config, over localhost: the same 4 devices as
a one-process run, which they must equal up to rounding (the all-reduces
sum in another order; BatchNorm amplifies the difference over the steps).
The two-process run gets a SIGINT (Ctrl-C) to one process after its
checkpoint of step 6, which the run turns into a SIGTERM to itself, the
preemption notice JAX passes to every process: both must save one
checkpoint at the same step and exit. Restarted, they resume from it, so
the one run also shows resume across processes.
"""

import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

from flax import nnx
import jax
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.compat.v1 import train as tf1_train

from audfer_jax import checkpointing
from audfer_jax import models
from tests import test_resume

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 10  # au_faces/tiny: 42 clips in 4 shards of >= 10, 2 a shard a step
TEST_CLIPS = 21  # au_faces/tiny's test split: 11 + 10 over 2 processes
TIMEOUT = 900  # per wait; a run takes 1-3 minutes on 2 loaded cores
ARGS = (
  '--config',
  os.path.join(ROOT, 'configs/demo.py'),
  '--config.dataset=au_faces/tiny',
  '--config.model=r3d_18_tiny',
  '--config.num_epochs=2',
  '--config.batch_size=8',
  # 4 clips a process: 3 batches each, the last ones padded.
  '--config.eval_batch_size=8',
  '--config.checkpoint_every_steps=2',
  '--config.log_every_steps=1',
  # SGD: AdamW turns the float noise of near-zero gradients (another
  # all-reduce order) into full-size updates within a few steps.
  '--config.optimizer=sgd',
  '--config.learning_rate=0.01',
)


@pytest.fixture(scope='module')
def env(tmp_path_factory):
  return dict(
    os.environ,
    PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, 'datasets')]),
    TFDS_DATA_DIR=str(tmp_path_factory.mktemp('tfds')),
  )


def _free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _start(workdir, env, devices, log, cluster=(), pause_after=None):
  """Starts run.py (or tests/paused_run.py) on `devices` CPU devices."""
  env = dict(env, JAX_NUM_CPU_DEVICES=str(devices))
  script = 'run.py'
  if pause_after:
    env['PAUSE_AFTER_SAVE'] = pause_after
    script = 'tests/paused_run.py'
  args = [sys.executable, os.path.join(ROOT, script), *ARGS, *cluster]
  with open(log, 'wb') as f:
    return subprocess.Popen(
      [*args, '--workdir', str(workdir)], env=env, stdout=f, stderr=f
    )


class _Processes:
  """run.py in `n` processes over localhost, logs in `logs`."""

  def __init__(self, name, workdir, env, logs, n=2, pause_after=None):
    self.name, self.logs = name, [logs / f'{name}_{i}.log' for i in range(n)]
    port = _free_port()
    self.procs = [
      _start(
        workdir,
        env,
        4 // n,
        self.logs[i],
        cluster=(
          f'--coordinator_address=127.0.0.1:{port}',
          f'--num_processes={n}',
          f'--process_id={i}',
          '--coordinator_timeout=120',
        )
        if n > 1
        else (),
        pause_after=pause_after,
      )
      for i in range(n)
    ]

  def log(self, i):
    with open(self.logs[i], errors='replace') as f:
      return f.read()

  def fail(self, what):
    """Kills the processes; fails with the end of each one's log."""
    self.kill()
    tails = [
      f'--- process {i} ({self.logs[i]}):\n'
      + '\n'.join(self.log(i).splitlines()[-30:])
      for i in range(len(self.procs))
    ]
    pytest.fail(f'{self.name}: {what}.\n' + '\n'.join(tails))

  def kill(self):
    for proc in self.procs:
      if proc.poll() is None:
        proc.kill()
      proc.wait()

  def wait_for(self, text):
    """Polls until every process's log has `text`."""
    deadline = time.monotonic() + TIMEOUT
    while not all(text in self.log(i) for i in range(len(self.procs))):
      if any(p.poll() is not None for p in self.procs):
        self.fail(f'a process exited before {text!r}')
      if time.monotonic() > deadline:
        self.fail(f'{text!r} not within {TIMEOUT} s')
      time.sleep(0.1)

  def finish(self):
    """Waits for every process to exit with code 0."""
    deadline = time.monotonic() + TIMEOUT
    for proc in self.procs:
      try:
        rc = proc.wait(timeout=max(1, deadline - time.monotonic()))
      except subprocess.TimeoutExpired:
        self.fail(f'no exit within {TIMEOUT} s')
      if rc:
        self.fail(f'exit code {rc}')


def _results(workdir):
  with open(workdir / 'results.json') as f:
    return json.load(f)


def _scalars(workdir, tag):
  """{step: value} of `tag` over the event files of `workdir`."""
  values = {}
  for path in glob.glob(str(workdir / 'events.out.tfevents.*')):
    for event in tf1_train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == tag:
          values[event.step] = float(tf.make_ndarray(value.tensor))
  return values


def _weights(workdir=None):
  """The parameters of a run's latest checkpoint, or the initial ones."""
  model = models.create('r3d_18_tiny', 7, rngs=nnx.Rngs(42))  # demo's seed
  if workdir is not None:
    loaded = checkpointing.load_weights(model, str(workdir))
    assert loaded == f'{workdir}/checkpoints/{STEPS}'
  leaves = jax.tree.leaves(nnx.to_pure_dict(nnx.state(model, nnx.Param)))
  return np.concatenate([np.ravel(x) for x in leaves])


@pytest.fixture(scope='module')
def one_process(tmp_path_factory, env):
  """The reference: one process of 4 devices (also prepares au_faces)."""
  tmp = tmp_path_factory.mktemp('one')
  run = _Processes('one_process', tmp / 'run', env, tmp, n=1)
  run.finish()
  return tmp / 'run'


def _latest_checkpoint(workdir):
  """The step of the latest complete checkpoint (orbax lists no other)."""
  ckpt = checkpointing.Checkpointer(str(workdir / 'checkpoints'), None)
  try:
    return ckpt.latest_step()
  finally:
    ckpt.close()


def _stopped_at(log):
  """The step of the run's 'Stopping at step N (why)' line, and why."""
  found = re.findall(r'Stopping at step (\d+) \((.*)\)', log)
  assert len(found) == 1, found
  return int(found[0][0]), found[0][1]


@pytest.fixture(scope='module')
def two_processes(tmp_path_factory, env, one_process):
  """Two processes of 2 devices, one sent SIGINT after step 6; restarted."""
  tmp = tmp_path_factory.mktemp('two')
  workdir = tmp / 'run'
  first = _Processes(
    'two_processes', workdir, env, tmp, pause_after='checkpoints/6'
  )
  first.wait_for('Paused after checkpoints/6.')
  first.procs[1].send_signal(signal.SIGINT)
  # JAX's handler takes the signal in a thread of its own and tells both
  # processes at once; the pause only keeps the stop away from the end of
  # the run. Continuing earlier would only make the agreed step later.
  time.sleep(2)
  for proc in first.procs:
    proc.send_signal(signal.SIGUSR1)
  first.finish()
  assert not (workdir / 'results.json').exists()
  saved = _latest_checkpoint(workdir)
  again = _Processes('restarted', workdir, env, tmp)
  again.finish()
  return workdir, first, again, saved


def test_sigint_to_one_process_stops_both_at_one_step(two_processes):
  _, first, again, saved = two_processes
  assert 'SIGINT: telling every process to stop' in first.log(1)
  stops = [_stopped_at(first.log(i)) for i in range(2)]
  assert stops[0] == stops[1], stops
  step, why = stops[0]
  # The step after the furthest one reached when the notice came (6, unless
  # the notice reached a process only after it had gone on).
  assert 6 < step < STEPS, step
  assert why == 'SIGTERM or SIGINT to one of the processes'
  assert saved == step
  for i in range(2):
    assert f'Resumed from step {step}.' in again.log(i), again.log(i)[-3000:]


def test_two_processes_train_as_one(one_process, two_processes):
  workdir, first, _, _ = two_processes
  for i in range(2):
    assert f'JAX process {i} of 2, 2 local devices of 4.' in first.log(i)
  # The same global batches (step 1: before any update), the same updates.
  want = _scalars(one_process, 'train/loss')
  got = _scalars(workdir, 'train/loss')
  assert sorted(want) == sorted(got) == list(range(1, STEPS + 1))
  assert got[1] == pytest.approx(want[1], rel=1e-6)
  np.testing.assert_allclose(
    [got[s] for s in sorted(got)], [want[s] for s in sorted(want)], rtol=1e-3
  )
  reference, results = _results(one_process), _results(workdir)
  assert results['best']['step'] == reference['best']['step'] == 5
  assert results['final']['step'] == reference['final']['step'] == STEPS
  for key in ('war', 'uar', 'per_class_accuracy', 'confusion_matrix'):
    np.testing.assert_allclose(
      results['final'][key], reference['final'][key], atol=1e-6, err_msg=key
    )
  # The AU decisions threshold near-zero logits of a barely trained model:
  # the rounding above flips a few of the 21 x 18 (at most 3 here).
  assert results['final']['au_accuracy'] == pytest.approx(
    reference['final']['au_accuracy'], abs=3 / (TEST_CLIPS * 18)
  )
  assert results['final']['au_f1'] == pytest.approx(
    reference['final']['au_f1'], abs=0.02
  )
  for key, value in reference['best'].items():  # step 5: before any rounding
    np.testing.assert_allclose(results['best'][key], value, err_msg=key)
  # Every test clip counted once: 21 does not divide into 2 x 4.
  cm = np.array(results['final']['confusion_matrix'])
  assert cm.sum() == TEST_CLIPS
  # Checkpoints are complete: the final models differ by the amplified
  # rounding (4 % of what training changed here), not by training.
  start, want, got = _weights(), _weights(one_process), _weights(workdir)
  assert np.linalg.norm(got - want) < 0.1 * np.linalg.norm(want - start)


def test_process_zero_writes_the_summaries_and_results(two_processes):
  workdir, first, again, _ = two_processes
  # TensorBoard's file names end in `.<pid>.<n>.v2`: one file per start, by
  # process 0, each point once across the restart.
  writers = {
    int(os.path.basename(p).split('.')[-3])
    for p in glob.glob(str(workdir / 'events.out.tfevents.*'))
  }
  assert writers == {first.procs[0].pid, again.procs[0].pid}
  steps = test_resume._summary_steps(str(workdir))
  assert sorted(steps['eval/confusion_matrix']) == [5, 10], steps
  assert steps['knowledge'] == [0], steps
  assert os.path.exists(workdir / 'confusion_matrix.png')
