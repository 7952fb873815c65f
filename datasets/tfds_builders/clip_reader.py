"""One clip folder plus its OpenFace CSV -> one example of `clip_features`.

All per-clip validation lives here: every frame must decode, frames must share
one size, and the CSV must have one row per frame.
"""

import io

from etils import epath
import numpy as np
from PIL import Image

from tfds_builders import facs
from tfds_builders import layout
from tfds_builders import openface
from tfds_builders.errors import DatasetLayoutError

PNG_TO_JPEG_QUALITY = 95


def read_frames(frame_dir):
  """JPEG bytes of a clip's frames in temporal order, checked to decode.

  JPEG RGB frames keep their original bytes (no re-encoding); PNG or non-RGB
  frames are converted to RGB JPEG at quality 95.

  Args:
    frame_dir: the clip folder.

  Returns:
    (paths, jpeg_bytes): the frame files and their JPEG encodings.
  """
  paths = layout.sorted_frames(frame_dir)
  encoded = []
  size = None
  for path in paths:
    data = path.read_bytes()
    try:
      image = Image.open(io.BytesIO(data))
      image.load()  # Decodes fully: truncated files fail here, not later.
    except (OSError, SyntaxError, ValueError) as e:
      raise DatasetLayoutError(f'{path}: frame does not decode ({e})') from e
    if size is None:
      size = image.size
    elif image.size != size:
      raise DatasetLayoutError(
        f'{path}: frame is {image.size[0]}x{image.size[1]}, the first frame '
        f'of the clip is {size[0]}x{size[1]}'
      )
    if image.format != 'JPEG' or image.mode != 'RGB':
      buffer = io.BytesIO()
      image.convert('RGB').save(
        buffer, format='JPEG', quality=PNG_TO_JPEG_QUALITY
      )
      data = buffer.getvalue()
    encoded.append(data)
  return paths, encoded


def _openface_rows_in_temporal_order(paths):
  """CSV row (0-based) of each frame, frames given in temporal order.

  OpenFace `-fdir` numbers frames in lexicographic file-name order, so for
  `1.jpg ... 16.jpg` its row 2 is `10.jpg`.
  """
  names = [p.name for p in paths]
  lexicographic = sorted(range(len(names)), key=names.__getitem__)
  rows = np.empty(len(names), np.int64)
  rows[lexicographic] = np.arange(len(names))
  return rows


def read_clip(frame_dir, csv_path, *, label, clip_id, allow_missing_au=False):
  """Reads one clip into a `clip_features` example.

  Args:
    frame_dir: the clip folder.
    csv_path: its OpenFace CSV.
    label: the class index.
    clip_id: the clip id stored in the example.
    allow_missing_au: when the CSV does not exist, keep the clip with zero AU
      arrays and `au_valid=False` instead of failing.

  Returns:
    (example, au_missing): the feature dict, and whether the CSV was missing.

  Raises:
    DatasetLayoutError: a frame or the CSV is missing or malformed, or the CSV
      row count differs from the number of frames.
  """
  paths, jpegs = read_frames(frame_dir)
  track, au_missing = read_track(
    frame_dir,
    paths,
    csv_path,
    clip_id=clip_id,
    allow_missing_au=allow_missing_au,
  )
  example = clip_example(
    jpegs, track, label=label, clip_id=clip_id, au_missing=au_missing
  )
  return example, au_missing


def read_track(frame_dir, paths, csv_path, *, clip_id, allow_missing_au):
  """The OpenFace track of a frame folder, rows in the order of `paths`.

  Args:
    frame_dir: the frame folder (for errors).
    paths: its frames in temporal order (`layout.sorted_frames`).
    csv_path: its OpenFace CSV.
    clip_id: names the clip in errors.
    allow_missing_au: a missing CSV gives an all-zero track instead of an
      error.

  Returns:
    (track, au_missing): the `OpenFaceTrack`, and whether the CSV was missing.
  """
  num_frames = len(paths)
  csv_path = epath.Path(csv_path)
  au_missing = not csv_path.exists()
  if au_missing and not allow_missing_au:
    raise DatasetLayoutError(
      f'{csv_path}: OpenFace CSV for clip {clip_id} is missing (run '
      'python -m tfds_builders.run_openface, or build with '
      'allow_missing_au=True to keep such clips without AUs)'
    )
  if au_missing:
    track = openface.OpenFaceTrack(
      face_success=np.zeros(num_frames, bool),
      face_confidence=np.zeros(num_frames, np.float32),
      au_intensity=np.zeros((num_frames, facs.NUM_INTENSITY_AUS), np.float32),
      au_presence=np.zeros((num_frames, facs.NUM_AUS), np.uint8),
    )
    return track, True
  track = openface.read_csv(csv_path)
  if track.num_frames != num_frames:
    raise DatasetLayoutError(
      f'{csv_path}: OpenFace CSV has {track.num_frames} frame rows but '
      f'{frame_dir} has {num_frames} frames'
    )
  return track.take(_openface_rows_in_temporal_order(paths)), False


def clip_example(jpegs, track, *, label, clip_id, au_missing=False):
  """The `clip_features` example of frames and their OpenFace track."""
  au_label, au_valid = openface.video_au_label(
    track.au_presence, track.face_success
  )
  return {
    'video': list(jpegs),
    'label': label,
    'clip_id': clip_id,
    'num_frames': len(jpegs),
    'face_success': track.face_success,
    'face_confidence': track.face_confidence,
    'au_intensity': track.au_intensity,
    'au_presence': track.au_presence,
    'au_label': au_label,
    'au_valid': au_valid and not au_missing,
  }
