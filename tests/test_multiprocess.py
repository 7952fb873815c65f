"""run.py in two real processes (jax.distributed, gloo): results and faults.

Two processes of 2 CPU devices each train R3D-18 tiny (BatchNorm) on
au_faces/tiny with the demo config, over localhost: the same 4 devices as
a one-process run, which they must equal up to rounding (the all-reduces
sum in another order; BatchNorm amplifies the difference over the steps).
The two-process run meets the faults of a multi-host run on its way: a
SIGINT (Ctrl-C) to one process after its checkpoint of step 6, which must
stop both at one agreed step; restarted, a SIGKILL of process 1 after the
checkpoint of step 8, which must stop process 0 within the heartbeat
timeout with one line; restarted again, it must end as the one-process run
does.

Then the end of a run, where a best model and the periodic, the final or a
preemption checkpoint are saved at the last step (process 0 writing the
best model's record late, as a slow shared file system would); a process
that never starts; and a run resumed with another number of processes.
"""

import glob
import json
import os
import re
import shutil
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
HEARTBEAT = 15  # --heartbeat_timeout: seconds before a silent process is lost
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


def _start(
  workdir, env, devices, log, cluster=(), args=(), faults=None, base=ARGS
):
  """Starts run.py with `base` + `args` on `devices` CPU devices; with
  `faults` (environment variables of tests/paused_run.py),
  tests/paused_run.py."""
  env = dict(env, JAX_NUM_CPU_DEVICES=str(devices), **(faults or {}))
  script = 'tests/paused_run.py' if faults else 'run.py'
  args = [sys.executable, os.path.join(ROOT, script), *base, *args, *cluster]
  with open(log, 'wb') as f:
    return subprocess.Popen(
      [*args, '--workdir', str(workdir)], env=env, stdout=f, stderr=f
    )


class _Processes:
  """run.py in `n` processes over localhost, logs in `logs`; `base`: the
  command line before `args` (default the demo's `ARGS`)."""

  def __init__(
    self, name, workdir, env, logs, n=2, args=(), faults=None, base=ARGS
  ):
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
          f'--heartbeat_timeout={HEARTBEAT}',
        )
        if n > 1
        else (),
        args=args,
        faults=faults,
        base=base,
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

  def wait(self, i, timeout=TIMEOUT):
    """Process `i`'s exit code, once it has exited within `timeout` s."""
    try:
      return self.procs[i].wait(timeout=timeout)
    except subprocess.TimeoutExpired:
      self.fail(f'process {i}: no exit within {timeout} s')

  def finish(self):
    """Waits for every process to exit with code 0."""
    deadline = time.monotonic() + TIMEOUT
    for i in range(len(self.procs)):
      rc = self.wait(i, max(1, deadline - time.monotonic()))
      if rc:
        self.fail(f'exit code {rc}')

  def pause_until(self, checkpoint):
    """Waits until every process holds after `checkpoint` (paused_run)."""
    self.wait_for(f'Paused after {checkpoint}.')

  def resume(self):
    """Lets the paused processes that are still there go on."""
    for proc in self.procs:
      if proc.poll() is None:
        proc.send_signal(signal.SIGUSR1)


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


def _stop_both_with_sigint(run, checkpoint):
  """SIGINT to process 1 of a run paused after `checkpoint`; lets it go on."""
  run.pause_until(checkpoint)
  run.procs[1].send_signal(signal.SIGINT)
  # JAX's handler takes the signal in a thread of its own and tells both
  # processes at once; the pause only keeps the stop away from the end of
  # the run. Continuing earlier would only make the agreed step later.
  time.sleep(2)
  run.resume()


@pytest.fixture(scope='module')
def two_processes(tmp_path_factory, env, one_process):
  """Two processes of 2 devices: SIGINT to one after step 6; restarted,
  SIGKILL of process 1 after step 8; restarted again to the end."""
  del one_process  # prepares au_faces/tiny first
  tmp = tmp_path_factory.mktemp('two')
  workdir = tmp / 'run'
  first = _Processes(
    'two_processes',
    workdir,
    env,
    tmp,
    faults={'PAUSE_AFTER_SAVE': 'checkpoints/6'},
  )
  _stop_both_with_sigint(first, 'checkpoints/6')
  first.finish()
  assert not (workdir / 'results.json').exists()
  saved = _latest_checkpoint(workdir)

  killed = _Processes(
    'killed', workdir, env, tmp, faults={'PAUSE_AFTER_SAVE': 'checkpoints/8'}
  )
  killed.pause_until('checkpoints/8')
  killed.procs[1].kill()
  killed.wait(1)
  lost = time.monotonic()
  killed.resume()  # process 0 goes on to its next all-reduce, and waits
  code = killed.wait(0, timeout=HEARTBEAT + 60)
  killed.lost_after = time.monotonic() - lost
  killed.code = code

  again = _Processes('restarted', workdir, env, tmp)
  again.finish()
  return workdir, (first, killed, again), saved


def test_sigint_to_one_process_stops_both_at_one_step(two_processes):
  _, (first, killed, _), saved = two_processes
  assert 'SIGINT: telling every process to stop' in first.log(1)
  stops = [_stopped_at(first.log(i)) for i in range(2)]
  assert stops[0] == stops[1], stops
  step, why = stops[0]
  # The step after the furthest one reached when the notice came (6, unless
  # the notice reached a process only after it had gone on).
  assert 6 < step < STEPS - 2, step
  assert why == 'SIGTERM or SIGINT to one of the processes'
  assert saved == step
  for i in range(2):
    assert f'Resumed from step {step}.' in killed.log(i), killed.log(i)[-3000:]


def test_a_killed_process_stops_the_other_in_one_line(two_processes):
  _, (_, killed, again), _ = two_processes
  # Lost after HEARTBEAT s without a sign of life, counted from the last
  # one process 0 saw (signs come every second, so up to 1 s before the
  # kill); JAX alone would end it only after its own heartbeat time-out,
  # with a fatal log.
  assert killed.code == 1, killed.log(0)[-3000:]
  assert HEARTBEAT - 1 <= killed.lost_after < HEARTBEAT + 30, killed.lost_after
  last = killed.log(0).rstrip('\n').splitlines()[-1]
  assert last == (
    f'error: process 1 of 2 was lost (no sign of life for {HEARTBEAT} s, '
    '--heartbeat_timeout); stopping. Re-run the same commands on every host '
    'to resume from the latest checkpoint.'
  ), killed.log(0)[-3000:]
  assert 'Check failure stack trace' not in killed.log(0)
  for i in range(2):
    assert 'Resumed from step 8.' in again.log(i), again.log(i)[-3000:]


def test_two_processes_train_as_one(one_process, two_processes):
  workdir, (first, _, _), _ = two_processes
  for i in range(2):
    assert f'JAX process {i} of 2, 2 local devices of 4.' in first.log(i)
  # The same global batches (step 1: before any update), the same updates.
  want = _scalars(one_process, 'train/loss')
  got = _scalars(workdir, 'train/loss')
  assert sorted(want) == sorted(got) == list(range(1, STEPS + 1))
  assert got[1] == pytest.approx(want[1], rel=1e-6)
  # The rounding grows step by step (1e-5 at step 6, 1e-3 at step 10).
  np.testing.assert_allclose(
    [got[s] for s in sorted(got)], [want[s] for s in sorted(want)], rtol=3e-3
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
  workdir, starts, _ = two_processes
  # TensorBoard's file names end in `.<pid>.<n>.v2`: one file per start, by
  # process 0, each point once across the restarts.
  writers = {
    int(os.path.basename(p).split('.')[-3])
    for p in glob.glob(str(workdir / 'events.out.tfevents.*'))
  }
  assert writers == {run.procs[0].pid for run in starts}
  steps = test_resume._summary_steps(str(workdir))
  assert sorted(steps['eval/confusion_matrix']) == [5, 10], steps
  assert steps['knowledge'] == [0], steps
  assert os.path.exists(workdir / 'confusion_matrix.png')


# The last step of each run is its only evaluation, so always a best model,
# saved with the periodic checkpoint (4 = 2 x 2), the final one (3) or the
# one every process saves at the step agreed after a SIGINT (3).
END_OF_RUN = {
  'periodic': ('--config.num_train_steps=4', None),
  'final': ('--config.num_train_steps=3', None),
  'preemption': ('--config.num_train_steps=3', 'checkpoints/2'),
}


@pytest.fixture(scope='module', params=sorted(END_OF_RUN))
def end_of_run(request, tmp_path_factory, env, one_process):
  """A two-process run whose last step saves a best model and a checkpoint,
  process 0 writing the best model's record 2 s late."""
  del one_process  # prepares au_faces/tiny first
  steps, pause = END_OF_RUN[request.param]
  tmp = tmp_path_factory.mktemp(f'end_{request.param}')
  faults = {'SLOW_BEST_SAVE': '2'}
  if pause:
    faults['PAUSE_AFTER_SAVE'] = pause
  run = _Processes(
    request.param, tmp / 'run', env, tmp, args=(steps,), faults=faults
  )
  if pause:
    _stop_both_with_sigint(run, pause)
  run.finish()
  return tmp / 'run', run, int(steps.rpartition('=')[2])


def test_a_run_ends_whatever_its_last_step_saves(end_of_run):
  workdir, run, last = end_of_run
  for kind in ('checkpoints', 'best'):
    saved = sorted(os.listdir(workdir / kind))
    assert saved[-1] == str(last), (kind, saved)  # no *.orbax-checkpoint-tmp
  results = _results(workdir)
  assert results['final']['step'] == results['best']['step'] == last
  assert np.array(results['final']['confusion_matrix']).sum() == TEST_CLIPS
  assert os.path.exists(workdir / 'confusion_matrix.png')
  # One event file, process 0's; the last evaluation in it once.
  (events,) = glob.glob(str(workdir / 'events.out.tfevents.*'))
  assert events.split('.')[-3] == str(run.procs[0].pid)
  assert test_resume._summary_steps(str(workdir))['eval/war'] == [last]
  for i in range(2):
    assert 'Done: final WAR' in run.log(i), run.log(i)[-3000:]
    assert 'already ongoing' not in run.log(i)
  if run.name == 'preemption':
    for i in range(2):
      assert (
        'Stop requested at the last step 3 (SIGTERM or SIGINT to one of the '
        'processes): finishing the run.'
      ) in run.log(i)


def test_a_process_that_never_starts_stops_the_others_in_one_line(
  tmp_path, env
):
  port = _free_port()
  started = time.monotonic()
  with open(tmp_path / 'alone.log', 'wb') as log:
    out = subprocess.run(
      [
        sys.executable,
        os.path.join(ROOT, 'run.py'),
        *ARGS,
        f'--coordinator_address=127.0.0.1:{port}',
        '--num_processes=2',
        '--process_id=0',
        '--coordinator_timeout=5',
        '--workdir',
        str(tmp_path / 'run'),
      ],
      env=dict(env, JAX_NUM_CPU_DEVICES='2'),
      stdout=log,
      stderr=subprocess.PIPE,
      text=True,
      timeout=TIMEOUT,
    )
  # Imports take 5-20 s on a loaded machine; JAX alone would wait longer
  # and end with a fatal log.
  assert 5 < time.monotonic() - started < 60
  assert out.returncode == 1, out.stderr[-3000:]
  assert out.stderr.rstrip('\n').splitlines()[-1] == (
    f'error: not every process joined 127.0.0.1:{port} within 5 s '
    '(--coordinator_timeout): start all 2 processes with the same '
    '--coordinator_address and --num_processes, each with its own '
    '--process_id.'
  ), out.stderr[-3000:]
  assert 'Check failure stack trace' not in out.stderr


def test_a_run_resumes_with_another_number_of_processes(
  tmp_path, env, one_process, two_processes
):
  """One process of 4 devices continues the two-process run, two processes
  continue the one-process run, each for one more epoch (steps 11-15)."""
  more = ('--config.num_epochs=3',)
  shutil.copytree(two_processes[0], tmp_path / 'from_two')
  one = _Processes(
    'one_more', tmp_path / 'from_two', env, tmp_path, n=1, args=more
  )
  shutil.copytree(one_process, tmp_path / 'from_one')
  two = _Processes('two_more', tmp_path / 'from_one', env, tmp_path, args=more)
  for run, workdir in ((one, 'from_two'), (two, 'from_one')):
    run.finish()
    for i in range(len(run.procs)):
      assert f'Resumed from step {STEPS}.' in run.log(i), run.log(i)[-3000:]
    assert _results(tmp_path / workdir)['final']['step'] == 15
