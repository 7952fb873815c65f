"""Training progress on the console: steps/s and the time left.

On a terminal one line is redrawn in place (a live bar); otherwise (a log
file, a pipe) a plain line is logged every `every_secs`.
"""

import sys
import time

from absl import logging


def _duration(seconds):
  minutes, seconds = divmod(int(round(seconds)), 60)
  hours, minutes = divmod(minutes, 60)
  return (
    f'{hours}:{minutes:02d}:{seconds:02d}'
    if hours
    else (f'{minutes}:{seconds:02d}')
  )


class Progress:
  """Reports `step` of `total_steps` with its rate and ETA.

  The rate counts from the first reported step, so the step's compilation
  (before it) does not slow the estimate down.
  """

  def __init__(
    self, total_steps, every_secs=10.0, stream=None, clock=time.monotonic
  ):
    self._total, self._every = total_steps, every_secs
    self._stream = sys.stderr if stream is None else stream
    self._live = self._stream.isatty()
    self._clock = clock
    self._start = self._last = None  # (step, time)

  def line(self, step, now):
    """'step 46/93 (49%), 2.6 steps/s, ETA 0:18'."""
    text = f'step {step}/{self._total} ({100 * step // self._total}%)'
    first_step, first_time = self._start
    if step > first_step and now > first_time:
      rate = (step - first_step) / (now - first_time)
      eta = _duration((self._total - step) / rate)
      text += f', {rate:.1f} steps/s, ETA {eta}'
    return text

  def __call__(self, step):
    """Call after step `step` (1-based) is done."""
    now = self._clock()
    if self._start is None:
      self._start = self._last = (step, now)
      return
    done = step == self._total
    if self._live:
      end = '\n' if done else ''
      self._stream.write(f'\r{self.line(step, now)}\x1b[K{end}')
      self._stream.flush()
    elif done or now - self._last[1] >= self._every:
      logging.info('%s', self.line(step, now))
      self._last = (step, now)

  def interrupt(self):
    """Ends a live line before another message is printed."""
    if self._live and self._start is not None:
      self._stream.write('\n')
