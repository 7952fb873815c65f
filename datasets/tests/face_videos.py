"""Test videos: scikit-image's astronaut photo moving across a grey frame,
and the face-crop command run on them.

The astronaut's face is where OpenCV's frontal Haar cascade finds it in the
512 x 512 photo: the square [177, 66, 95, 95] (x, y, side).
"""

import subprocess
import sys

import cv2
import numpy as np
import skimage.data

FACE_IN_PHOTO = (177, 66, 95)
CANVAS = (240, 320)  # height, width
# The photo's part around the face, shrunk by SCALE before it is pasted.
_PART = (slice(0, 300), slice(80, 380))
SCALE = 0.5


def _face_part():
  part = skimage.data.astronaut()[_PART]
  size = round(part.shape[0] * SCALE)
  return cv2.resize(part, (size, size), interpolation=cv2.INTER_AREA)


def moving_face(num_frames, absent=()):
  """Frames [T, H, W, 3] with the face sliding right and down, and the true
  face square (x, y, side) in each (None in the frames of `absent`)."""
  part = _face_part()
  x0, y0, side = FACE_IN_PHOTO
  frames, faces = [], []
  for t in range(num_frames):
    frame = np.full((*CANVAS, 3), 128, np.uint8)
    if t in absent:
      frames.append(frame)
      faces.append(None)
      continue
    # Across the canvas whatever the length: 150 px right, 58 px down.
    step = t / max(num_frames - 1, 1)
    ox, oy = 10 + round(150 * step), 20 + round(58 * step)
    frame[oy : oy + part.shape[0], ox : ox + part.shape[1]] = part
    frames.append(frame)
    faces.append(
      (ox + (x0 - _PART[1].start) * SCALE, oy + y0 * SCALE, side * SCALE)
    )
  return np.stack(frames), faces


def write(path, frames, fps=25):
  """Writes RGB `frames` with OpenCV's own writer (MJPG in .avi, else mp4v)."""
  codec = 'MJPG' if str(path).endswith('.avi') else 'mp4v'
  h, w = frames.shape[1:3]
  out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
  assert out.isOpened(), path
  for frame in frames:
    out.write(np.ascontiguousarray(frame[..., ::-1]))
  out.release()


def face_crop(manual_dir):
  """Runs the face-crop command on a dataset folder as the README does (one
  worker); returns its stdout."""
  out = subprocess.run(
    [sys.executable, '-m', 'tfds_builders.face_crop']
    + ['--manual_dir', str(manual_dir), '--workers', '1'],
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert out.returncode == 0, out.stderr
  return out.stdout
