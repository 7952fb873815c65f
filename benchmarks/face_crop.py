"""The face-crop detector's detection rate and speed (no JAX, no data).

  python -m benchmarks.face_crop

Faces that ship with scikit-image: the astronaut photo at several face
sizes and in-plane rotations on a grey 640 x 480 frame, and the 100 faces
and 100 non-faces of its LFW subset (25 x 25 crops, grey, shown at 100 px
with a margin). Speed: detection per frame at three frame sizes, and the
whole `write_clip` (decode, detect, crop, JPEG) on a 640 x 480 video.
"""

import argparse
import os
import tempfile
import time

import cv2
import numpy as np
import skimage.data

from tfds_builders.face_crop import detector as detector_lib
from tfds_builders.face_crop import writer

_FACE = (177, 66, 95)  # the astronaut's face in the photo: x, y, side


def _astronaut(face_side, angle):
  """A 640 x 480 grey frame with the astronaut's face `face_side` px wide,
  rotated by `angle` degrees about the face centre."""
  photo = skimage.data.astronaut()
  scale = face_side / _FACE[2]
  photo = cv2.resize(
    photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
  )
  frame = np.full((480, 640, 3), 128, np.uint8)
  h, w = min(photo.shape[0], 480), min(photo.shape[1], 640)
  frame[:h, :w] = photo[:h, :w]
  centre = (
    (_FACE[0] + _FACE[2] / 2) * scale,
    (_FACE[1] + _FACE[2] / 2) * scale,
  )
  rotation = cv2.getRotationMatrix2D(centre, angle, 1.0)
  return cv2.warpAffine(
    frame, rotation, (640, 480), borderValue=(128, 128, 128)
  )


def _lfw():
  """(faces, non-faces): [100, 150, 150, 3] uint8 each, the 25 px crops at
  100 px in the middle of a grey frame."""
  images = (skimage.data.lfw_subset() * 255).astype(np.uint8)
  big = np.stack([cv2.resize(i, (100, 100)) for i in images])
  frames = np.full((len(big), 150, 150), 128, np.uint8)
  frames[:, 25:125, 25:125] = big
  frames = np.repeat(frames[..., None], 3, axis=-1)
  return frames[:100], frames[100:]


def _rate(detector, frames):
  return np.mean([detector(f) is not None for f in frames])


def _ms_per_frame(detector, frame, repeats):
  detector(frame)
  start = time.perf_counter()
  for _ in range(repeats):
    detector(frame)
  return 1000 * (time.perf_counter() - start) / repeats


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--repeats', type=int, default=20)
  args = parser.parse_args()
  cv2.setNumThreads(1)  # per worker, as the command runs it
  detector = detector_lib.HaarDetector()
  print('astronaut, found (1) or not (0), by face side (px) and rotation:')
  sides, angles = (16, 24, 32, 48, 96, 192), (0, 10, 20, 30, 45)
  print('side ' + ' '.join(f'{a:>4d}deg' for a in angles))
  for side in sides:
    found = [int(detector(_astronaut(side, a)) is not None) for a in angles]
    print(f'{side:4d} ' + ' '.join(f'{f:>7d}' for f in found))
  faces, others = _lfw()
  print(f'LFW subset: {100 * _rate(detector, faces):.0f} % of 100 faces found,')
  print(f'  {100 * _rate(detector, others):.0f} % of 100 non-faces "found"')
  for h, w in ((240, 320), (480, 640), (720, 1280)):
    frame = cv2.resize(_astronaut(96, 0), (w, h))
    ms = _ms_per_frame(detector, frame, args.repeats)
    blank = _ms_per_frame(
      detector, np.full((h, w, 3), 128, np.uint8), args.repeats
    )
    print(f'{w}x{h}: {ms:.1f} ms/frame with a face, {blank:.1f} ms without')
  with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, 'v.avi')
    out = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 25, (640, 480))
    for t in range(100):
      out.write(np.roll(_astronaut(96, 0), 2 * t, axis=1)[..., ::-1])
    out.release()
    start = time.perf_counter()
    writer.write_clip(path, os.path.join(tmp, 'v'), detector)
    seconds = time.perf_counter() - start
  print(
    f'write_clip, 100 frames 640x480 -> 224 px: {100 / seconds:.1f} frames/s'
  )


if __name__ == '__main__':
  main()
