"""Per-frame detections -> one square crop box per frame, steady over time."""

import numpy as np


def square_boxes(detections, margin):
  """Centre and side of the square crop around each detection.

  Args:
    detections: [T] of `detector.Box` or None.
    margin: the side is the box's longer side times `1 + 2 * margin` (a
      margin of that fraction on each side: Haar boxes stop at the brows
      and the chin).

  Returns:
    [T, 3] float (centre x, centre y, side); NaN rows where nothing was found.
  """
  out = np.full((len(detections), 3), np.nan)
  for t, box in enumerate(detections):
    if box is not None:
      side = max(box.w, box.h) * (1 + 2 * margin)
      out[t] = (box.x + box.w / 2, box.y + box.h / 2, side)
  return out


def fill_nearest(values):
  """Each NaN row takes the nearest found row (the earlier one on a tie).

  Raises:
    ValueError: no row was found.
  """
  found = np.flatnonzero(~np.isnan(values[:, 0]))
  if found.size == 0:
    raise ValueError('no frame has a detection')
  t = np.arange(len(values))
  after = np.clip(np.searchsorted(found, t), 0, found.size - 1)
  before = np.clip(after - 1, 0, found.size - 1)
  use_before = np.abs(t - found[before]) <= np.abs(found[after] - t)
  return values[np.where(use_before, found[before], found[after])]


def _centred(values, window, reduce):
  """`reduce` over `window` frames centred on each frame; the window
  shrinks near the ends so that it stays centred (a steady motion is then
  kept as it is up to the first and last frame)."""
  half, last = window // 2, len(values) - 1
  out = np.empty_like(values)
  for t in range(len(values)):
    h = min(half, t, last - t)
    out[t] = reduce(values[t - h : t + h + 1], axis=0)
  return out


def smooth(values, window):
  """A running median (drops short false detections), then a running mean
  (removes the jitter), both over `window` frames centred on each frame."""
  if window % 2 == 0:
    raise ValueError(f'the smoothing window must be odd, got {window}')
  return _centred(_centred(values, window, np.median), window, np.mean)


def track(detections, margin=0.2, window=9):
  """Integer square crop boxes [T, 3] (x, y, side: top-left, source pixels).

  Frames without a detection take the nearest detected frame's box, then
  every box is smoothed over time.
  """
  centre = smooth(fill_nearest(square_boxes(detections, margin)), window)
  side = np.round(centre[:, 2])
  corner = np.round(centre[:, :2] - side[:, None] / 2)
  return np.concatenate([corner, side[:, None]], axis=1).astype(np.int64)
