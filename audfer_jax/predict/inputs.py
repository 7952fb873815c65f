"""What `--input` names: a video, a folder of frames, or a folder of videos.

Light (no TensorFlow, JAX or OpenCV): the command checks its input before
anything heavy loads.
"""

import dataclasses
import os
import pathlib

from tfds_builders.face_crop import VIDEO_SUFFIXES

FRAME_SUFFIXES = ('.jpg', '.jpeg')


class InputError(ValueError):
  """`--input` is none of the accepted kinds; the message says why."""


@dataclasses.dataclass(frozen=True)
class Item:
  """One thing to predict on, and the folder its outputs go to."""

  kind: str  # 'video' or 'frames'
  path: pathlib.Path
  output: pathlib.Path


def _has_frames(folder):
  return any(
    f.lower().endswith(FRAME_SUFFIXES)
    for f in os.listdir(folder)
    if os.path.isfile(os.path.join(folder, f))
  )


def _videos(root):
  found = []
  for folder, dirs, files in os.walk(root):
    dirs.sort()
    found += [
      pathlib.Path(folder, f)
      for f in files
      if f.lower().endswith(VIDEO_SUFFIXES)
    ]
  return sorted(found)


def items(path, output):
  """The items of `--input path`, each with its folder under `output`.

  Raises:
    InputError: `path` is missing, a file that is not a video, or a folder
      with neither frames nor videos.
  """
  path, output = pathlib.Path(path), pathlib.Path(output)
  suffixes = '/'.join(VIDEO_SUFFIXES)
  if path.is_file():
    if not path.name.lower().endswith(VIDEO_SUFFIXES):
      raise InputError(f'--input {path}: not a video ({suffixes})')
    return [Item('video', path, output / path.stem)]
  if not path.is_dir():
    raise InputError(f'--input {path}: no such file or folder')
  if _has_frames(path):
    return [Item('frames', path, output / path.name)]
  videos = _videos(path)
  if not videos:
    raise InputError(
      f'--input {path}: neither frames ({"/".join(FRAME_SUFFIXES)}) nor '
      f'videos ({suffixes}) in it'
    )
  return [
    Item('video', v, output / v.parent.relative_to(path) / v.stem)
    for v in videos
  ]
