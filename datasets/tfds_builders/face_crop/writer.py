"""Writes one video's face crops as a clip folder, atomically.

`<target>/00001.jpg, 00002.jpg, ...` (one per decoded frame, in order) and
`<target>/faces.csv` (`frame,face,x,y,size`: 1-based frame, 1 when the
detector found the face in it, the smoothed square box in source pixels).
The folder is written under a temporary name and renamed into place, so a
folder that exists is complete and a killed run leaves none half-written.
"""

import csv
import os
import pathlib
import shutil

import cv2

from tfds_builders.face_crop import crop

FACES_CSV = 'faces.csv'
_JPEG_QUALITY = 95


def frame_name(index):
  """The file name of frame `index` (0-based): '00001.jpg' for 0."""
  return f'{index + 1:05d}.jpg'


def write_clip(video, target, detector, size=224, margin=0.2, window=9):
  """Crops the face of every frame of `video` into the folder `target`.

  Returns:
    'skipped' when `target` already exists, else 'done'.

  Raises:
    VideoError: the video cannot be decoded or has no face (nothing written).
  """
  target = pathlib.Path(target)
  if target.is_dir():
    return 'skipped'
  boxes, found = crop.track_video(video, detector, margin, window)
  tmp = target.parent / f'.{target.name}.tmp'
  shutil.rmtree(tmp, ignore_errors=True)  # Left over by a killed run.
  tmp.mkdir(parents=True)
  try:
    for i, face in enumerate(crop.face_crops(video, boxes, size)):
      path = str(tmp / frame_name(i))
      cv2.imwrite(
        path, face[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY]
      )
    with open(tmp / FACES_CSV, 'w', newline='') as f:
      out = csv.writer(f)
      out.writerow(['frame', 'face', 'x', 'y', 'size'])
      for i, ((x, y, side), hit) in enumerate(zip(boxes, found, strict=True)):
        out.writerow([i + 1, int(hit), x, y, side])
    os.replace(tmp, target)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return 'done'
