"""run.py, holding still after one checkpoint until it is signalled.

  PAUSE_AFTER_SAVE=checkpoints/4 python tests/paused_run.py <run.py's args>

runs run.py unchanged except that, once the periodic checkpoint of step 4
(`best/5`: the best model saved at step 5) is complete on disk, it prints
`Paused after checkpoints/4.` and waits until
the run's own SIGTERM/SIGINT handler has run, or a SIGUSR1 comes (or a SIGKILL
ends it). A test can so interrupt a run at a known step however fast or slow
the machine is: a free-running run can finish between the test seeing a
checkpoint and its signal arriving (tests/test_resume.py). SIGUSR1 continues
the processes of a multi-process run, where JAX, not the run, takes SIGTERM
(tests/test_multiprocess.py).

  SLOW_BEST_SAVE=3 python tests/paused_run.py <run.py's args>

makes process 0 write the JSON record of every best-model save 3 s late, as
a slow shared file system would: the other processes finish their part of
that save first and wait for it in orbax's barrier while the periodic or
final checkpoint of the same step starts (tests/test_multiprocess.py).
"""

import asyncio
import os
import runpy
import signal
import sys
import time

import jax
import orbax.checkpoint as ocp

from audfer_jax import checkpointing

RUN_PY = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'run.py')
# If no signal comes (the test died), fail instead of waiting forever.
_MAX_PAUSE_SECONDS = 1800
_signalled = []


def _recording(handle):
  def wrapper(self, signum, frame):
    handle(self, signum, frame)
    _signalled.append(signum)

  return wrapper


def _pausing(save, pause_at):
  def wrapper(self, step, *args, **kwargs):
    saved = save(self, step, *args, **kwargs)
    if f'{os.path.basename(self.directory)}/{step}' == pause_at:
      self.wait_until_finished()
      print(f'Paused after {pause_at}.', flush=True)
      deadline = time.monotonic() + _MAX_PAUSE_SECONDS
      # Polls a flag rather than signal.pause(): a signal that arrives before
      # the wait starts is not lost.
      while not _signalled:
        if time.monotonic() > deadline:
          raise TimeoutError(f'No signal after {pause_at}.')
        time.sleep(0.05)
    return saved

  return wrapper


def _slowed(write, seconds):
  async def wrapper(self, item, directory):
    if jax.process_index() == 0 and '/best/' in str(directory):
      await asyncio.sleep(seconds)
    await write(self, item, directory)

  return wrapper


if __name__ == '__main__':
  if os.environ.get('SLOW_BEST_SAVE'):
    ocp.JsonCheckpointHandler._save_fn = _slowed(
      ocp.JsonCheckpointHandler._save_fn, float(os.environ['SLOW_BEST_SAVE'])
    )
  stop = checkpointing.StopSignal
  stop._handle = _recording(stop._handle)
  signal.signal(signal.SIGUSR1, lambda signum, frame: _signalled.append(signum))
  if os.environ.get('PAUSE_AFTER_SAVE'):
    checkpointing.Checkpointer.save = _pausing(
      checkpointing.Checkpointer.save, os.environ['PAUSE_AFTER_SAVE']
    )
  sys.argv = [RUN_PY, *sys.argv[1:]]
  runpy.run_path(RUN_PY, run_name='__main__')
