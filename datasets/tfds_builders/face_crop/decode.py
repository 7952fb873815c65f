"""Video files -> RGB frames, with OpenCV's decoder."""

import cv2
import numpy as np


class VideoError(ValueError):
  """A video file cannot be opened or decoded; the message names the file."""


def frames(path):
  """Yields the frames of the video at `path`, RGB uint8 [H, W, 3], in order.

  Raises:
    VideoError: the file is missing, not a video OpenCV can decode, or has
      no frame.
  """
  capture = cv2.VideoCapture(str(path))
  if not capture.isOpened():
    raise VideoError(f'{path}: cannot be opened as a video')
  count = 0
  try:
    while True:
      ok, bgr = capture.read()
      if not ok:
        break
      count += 1
      yield np.ascontiguousarray(bgr[..., ::-1])
  finally:
    capture.release()
  if count == 0:
    raise VideoError(f'{path}: no frame could be decoded')


def frame_rate(path):
  """The frame rate the file declares (frames/s), or None when it has none."""
  capture = cv2.VideoCapture(str(path))
  try:
    fps = capture.get(cv2.CAP_PROP_FPS) if capture.isOpened() else 0.0
  finally:
    capture.release()
  return fps if fps > 0 else None
