"""The console: the progress line (a fake clock) and the log filter."""

import io
import logging as py_logging

from absl import logging

from audfer_jax import progress
from audfer_jax.process import quiet_logs


class _Clock:
  def __init__(self):
    self.now = 0.0

  def __call__(self):
    return self.now


class _Tty(io.StringIO):
  def isatty(self):
    return True


def _run(stream, steps_and_times):
  clock = _Clock()
  report = progress.Progress(100, every_secs=10.0, stream=stream, clock=clock)
  for step, now in steps_and_times:
    clock.now = now
    report(step)
  return report


def test_plain_lines_every_ten_seconds(monkeypatch):
  logged = []
  monkeypatch.setattr(logging, 'info', lambda fmt, *a: logged.append(fmt % a))
  # Step 1 at t=100 (after compiling), then 4 steps/s.
  times = [(1, 100.0)] + [(s, 100.0 + (s - 1) / 4) for s in range(2, 101)]
  _run(io.StringIO(), times)
  # 10 s = 40 steps after step 1: steps 41 and 81 log, and the last one.
  # At step 41: 40 steps in 10 s, 59 left -> 14.75 s, shown 0:15.
  assert logged == [
    'step 41/100 (41%), 4.0 steps/s, ETA 0:15',
    'step 81/100 (81%), 4.0 steps/s, ETA 0:05',
    'step 100/100 (100%), 4.0 steps/s, ETA 0:00',
  ]


def test_live_line_on_a_terminal(monkeypatch):
  monkeypatch.setattr(logging, 'info', lambda *a: 1 / 0)  # nothing logged
  stream = _Tty()
  # 0.5 steps/s: 98 steps left at step 2 -> 196 s = 3:16.
  report = _run(stream, [(1, 0.0), (2, 2.0)])
  assert stream.getvalue() == '\rstep 2/100 (2%), 0.5 steps/s, ETA 3:16\x1b[K'
  report.interrupt()
  assert stream.getvalue().endswith('\n')


def _record(level, path, message):
  return py_logging.LogRecord('absl', level, path, 1, message, None, None)


def test_quiet_libraries_keeps_what_a_person_reads():
  keep = quiet_logs.QuietLibraries().filter
  site = '/venv/lib/python3.12/site-packages'
  tfds_log = f'{site}/tensorflow_datasets/core/logging/logging_logger.py'
  assert not keep(_record(20, tfds_log, 'Constructing tf.data.Dataset x'))
  assert not keep(
    _record(30, f'{site}/tensorflow_datasets/core/features/feature.py',
            '`TensorInfo.dtype` is deprecated. Please change your code')
  )  # fmt: skip
  # The same library's other warnings, and the trainer's own lines, stay.
  assert keep(_record(30, tfds_log, 'Some other problem'))
  assert keep(
    _record(20, '/repo/audfer_jax/training/train_loop.py', 'Model built (3 s).')
  )
