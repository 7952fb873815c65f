"""Face detectors behind one small interface, and OpenCV's Haar cascades.

A detector is any callable `detector(rgb) -> Box | None`: the face to crop
in an RGB uint8 frame (the largest when there are several), or None. Plug a
better one in by passing such a callable to `crop.track_video`.

The Haar cascades ship inside opencv-python-headless 4.x (`cv2.data`), so
nothing is downloaded at run time. They are fast on a CPU and reliable for
frontal faces a few dozen pixels wide and more; they miss faces turned more
than about 30 degrees (the profile cascade recovers part of those), tilted
heads, faces under about 30 px, and strong shadows. The wheel holds no DNN
face detector weights (`cv2.FaceDetectorYN` needs a YuNet ONNX file).
"""

import dataclasses
import os
from typing import Protocol

import cv2
import numpy as np


@dataclasses.dataclass(frozen=True)
class Box:
  """A detection in source pixels: top-left corner, width and height."""

  x: float
  y: float
  w: float
  h: float


class Detector(Protocol):
  def __call__(self, rgb: np.ndarray) -> Box | None: ...


def _cascade(name):
  path = os.path.join(cv2.data.haarcascades, name)
  cascade = cv2.CascadeClassifier(path)
  if cascade.empty():
    raise RuntimeError(
      f'{path}: OpenCV has no Haar cascade there (opencv-python-headless 5 '
      'no longer ships them; install opencv-python-headless<5)'
    )
  return cascade


def _largest(found):
  if len(found) == 0:
    return None
  return max(found, key=lambda b: b[2] * b[3])


class HaarDetector:
  """OpenCV's frontal-face Haar cascade, then the profile one (both ways).

  Frames are searched at most `max_side` pixels on their long side (faster;
  a face must then be at least `min_face` of that side).
  """

  def __init__(self, profile=True, max_side=480, min_face=0.06):
    self._frontal = _cascade('haarcascade_frontalface_default.xml')
    self._profile = _cascade('haarcascade_profileface.xml') if profile else None
    self._max_side, self._min_face = max_side, min_face

  def _detect(self, cascade, gray):
    side = max(12, int(self._min_face * max(gray.shape)))
    return _largest(
      cascade.detectMultiScale(
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(side, side)
      )
    )

  def __call__(self, rgb):
    scale = min(1.0, self._max_side / max(rgb.shape[:2]))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
      gray = cv2.resize(
        gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
      )
    gray = cv2.equalizeHist(gray)
    found = self._detect(self._frontal, gray)
    if found is None and self._profile is not None:
      # The profile cascade finds faces turned one way: search the mirror too.
      found = self._detect(self._profile, gray)
      if found is None:
        mirrored = self._detect(self._profile, gray[:, ::-1])
        if mirrored is not None:
          x, y, w, h = mirrored
          found = (gray.shape[1] - x - w, y, w, h)
    if found is None:
      return None
    x, y, w, h = (float(v) / scale for v in found)
    return Box(x, y, w, h)
