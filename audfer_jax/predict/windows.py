"""Sliding windows over a long video: which frames each prediction sees."""

import numpy as np


def windows(num_frames, window, stride):
  """[(start, end)] frame ranges of `window` frames, `stride` apart.

  The last window ends at the last frame (it may overlap the one before
  more); a video of at most `window` frames is one window.
  """
  if num_frames < 1 or window < 1 or stride < 1:
    raise ValueError(
      f'need num_frames, window, stride >= 1, got {num_frames}, {window}, '
      f'{stride}'
    )
  if num_frames <= window:
    return [(0, num_frames)]
  starts = list(range(0, num_frames - window + 1, stride))
  if starts[-1] != num_frames - window:
    starts.append(num_frames - window)
  return [(s, s + window) for s in starts]


def centres(spans):
  """The middle frame (a float) of each (start, end) range."""
  return np.array([(start + end - 1) / 2 for start, end in spans])
