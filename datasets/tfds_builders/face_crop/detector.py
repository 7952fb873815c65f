"""Face detectors behind one small interface, and OpenCV's Haar cascades.

A detector is any callable `detector(rgb) -> Box | None`: the face to crop
in an RGB uint8 frame (the most likely one when there are several), or
None. Plug a better one in by passing such a callable to
`crop.track_video` or `writer.write_clip`.

The Haar cascades ship inside opencv-python-headless 4.x (`cv2.data`), so
nothing is downloaded at run time. They find frontal faces of about 30 px
and more (97 of the 100 faces of scikit-image's LFW subset, no false
detection on its 100 non-faces; `python -m benchmarks.face_crop`); they
miss faces tilted by 20-30 degrees or more in the image plane, smaller
faces, and faces turned sideways beyond what the profile cascade covers.
The wheel holds no DNN face detector weights (`cv2.FaceDetectorYN` needs a
YuNet ONNX file).
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


def _best(cascade, gray, min_side):
  """The detection the cascade is most confident of (its last stage's
  weight: a false detection beside a face has a clearly lower one)."""
  boxes, _, weights = cascade.detectMultiScale3(
    gray,
    scaleFactor=1.1,
    minNeighbors=5,
    minSize=(min_side, min_side),
    outputRejectLevels=True,
  )
  if len(boxes) == 0:
    return None
  return boxes[int(np.argmax(np.ravel(weights)))]


class HaarDetector:
  """OpenCV's frontal-face Haar cascade, then the profile one (both ways).

  Frames are searched at most `max_side` pixels on their long side (faster;
  a face must then be at least `min_face` of that side, and 20 px). Where
  the cascade finds several faces it keeps its most confident one.
  """

  def __init__(self, profile=True, max_side=480, min_face=0.05):
    self._frontal = _cascade('haarcascade_frontalface_default.xml')
    self._profile = _cascade('haarcascade_profileface.xml') if profile else None
    self._max_side, self._min_face = max_side, min_face

  def __call__(self, rgb):
    scale = min(1.0, self._max_side / max(rgb.shape[:2]))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
      gray = cv2.resize(
        gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
      )
    side = max(20, int(self._min_face * max(gray.shape)))
    found = _best(self._frontal, gray, side)
    if found is None and self._profile is not None:
      # The profile cascade finds faces turned one way: search the mirror too.
      found = _best(self._profile, gray, side)
      if found is None:
        mirrored = _best(
          self._profile, np.ascontiguousarray(gray[:, ::-1]), side
        )
        if mirrored is not None:
          x, y, w, h = mirrored
          found = (gray.shape[1] - x - w, y, w, h)
    if found is None:
      return None
    x, y, w, h = (float(v) / scale for v in found)
    return Box(x, y, w, h)
