"""Crops many videos in worker processes, with progress, rate and ETA."""

from concurrent import futures
import logging
import pathlib
import time

import cv2

from tfds_builders import face_crop
from tfds_builders import layout
from tfds_builders import workers as workers_lib
from tfds_builders.face_crop import crop
from tfds_builders.face_crop import decode
from tfds_builders.face_crop import detector as detector_lib
from tfds_builders.face_crop import writer

_worker = None  # (detector, size, margin, window), one per worker process


def find_videos(root):
  """The videos under `root` (or `root` itself), sorted; the frame trees of
  a dataset folder (face crops, OpenFace, cropped_aligned) are not walked."""
  root = pathlib.Path(root)
  if root.is_file():
    return [root]
  return [
    pathlib.Path(v) for v in layout.find_videos(root, face_crop.VIDEO_SUFFIXES)
  ]


def targets(videos, input_root, output):
  """{video: its clip folder}; a file input goes straight under `output`.

  Raises:
    ValueError: two videos would share a folder (`a.mp4` and `a.avi`).
  """
  input_root, output = pathlib.Path(input_root), pathlib.Path(output)
  out = {}
  for video in videos:
    rel = video.parent.relative_to(input_root) if input_root.is_dir() else ''
    out[video] = output / rel / video.stem
  seen = {}
  for video, target in out.items():
    if target in seen:
      raise ValueError(
        f'{video} and {seen[target]} would both be cropped into {target}'
      )
    seen[target] = video
  return out


def _start_worker(size, margin, window):
  global _worker
  cv2.setNumThreads(1)  # the workers are the parallelism
  _worker = (detector_lib.HaarDetector(), size, margin, window)


def _crop_one(video, target):
  detector, size, margin, window = _worker
  try:
    return writer.write_clip(video, target, detector, size, margin, window)
  except decode.VideoError as e:
    return e


def _duration(seconds):
  minutes, seconds = divmod(int(seconds), 60)
  return f'{minutes // 60}:{minutes % 60:02d}:{seconds:02d}'


def run(jobs, workers, size=224, margin=0.2, window=9):
  """Crops every {video: target}; returns the {video: error} failures."""
  counts = {'done': 0, 'skipped': 0}
  failures = {}
  log_every = max(1, len(jobs) // 100)
  start = time.time()
  with workers_lib.pool(
    min(workers, len(jobs)), _start_worker, (size, margin, window)
  ) as pool:
    pending = {pool.submit(_crop_one, v, t): v for v, t in jobs.items()}
    for i, job in enumerate(futures.as_completed(pending), start=1):
      status = job.result()
      if isinstance(status, Exception):
        failures[pending[job]] = status
        logging.error('%s', status)
      else:
        counts[status] += 1
      if i % log_every == 0 or i == len(jobs):
        elapsed = max(time.time() - start, 1e-9)
        logging.info(
          '%d/%d videos (%d cropped, %d skipped, %d failed), %.2f videos/s, '
          'ETA %s',
          i,
          len(jobs),
          counts['done'],
          counts['skipped'],
          len(failures),
          i / elapsed,
          _duration((len(jobs) - i) * elapsed / i),
        )
  no_face = sum(isinstance(e, crop.NoFaceError) for e in failures.values())
  print(
    f'{counts["done"]} videos cropped, {counts["skipped"]} already done, '
    f'{no_face} without a face, {len(failures) - no_face} unreadable'
  )
  return failures
