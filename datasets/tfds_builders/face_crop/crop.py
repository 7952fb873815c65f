"""One video -> its tracked face boxes and square face crops."""

import cv2
import numpy as np

from tfds_builders.face_crop import decode
from tfds_builders.face_crop import tracking


class NoFaceError(decode.VideoError):
  """No frame of the video has a face the detector finds."""


def track_video(path, detector, margin=0.2, window=9):
  """Detects a face in every frame and tracks a square box over time.

  Returns:
    boxes: [T, 3] int (x, y, side) in source pixels, one per frame.
    found: [T] bool, whether the detector found the face in that frame.

  Raises:
    VideoError: the file cannot be decoded.
    NoFaceError: no frame has a face.
  """
  detections = [detector(frame) for frame in decode.frames(path)]
  found = np.array([d is not None for d in detections])
  if not found.any():
    raise NoFaceError(
      f'{path}: no face found in any of its {len(found)} frames'
    )
  return tracking.track(detections, margin, window), found


def crop(frame, box, size):
  """The square `box` (x, y, side) of `frame` resized to `size` x `size`;
  the part outside the frame is black."""
  x, y, side = (int(v) for v in box)
  square = np.zeros((side, side, 3), frame.dtype)
  h, w = frame.shape[:2]
  top, left = max(y, 0), max(x, 0)
  bottom, right = min(y + side, h), min(x + side, w)
  if bottom > top and right > left:
    square[top - y : bottom - y, left - x : right - x] = frame[
      top:bottom, left:right
    ]
  interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
  return cv2.resize(square, (size, size), interpolation=interpolation)


def face_crops(path, boxes, size):
  """Yields the face crop of each frame (a second decoding pass, so a long
  video never has to fit in memory)."""
  for frame, box in zip(decode.frames(path), boxes, strict=True):
    yield crop(frame, box, size)
