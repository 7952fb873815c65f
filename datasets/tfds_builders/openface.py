"""OpenFace 2.2.0 FeatureExtraction output: parsing and per-video AU labels."""

import csv
import dataclasses

from etils import epath
import numpy as np

from tfds_builders import facs
from tfds_builders.errors import DatasetLayoutError

INTENSITY_COLUMNS = tuple(f'{n}_r' for n in facs.AU_INTENSITY_NAMES)
PRESENCE_COLUMNS = tuple(f'{n}_c' for n in facs.AU_PRESENCE_NAMES)
REQUIRED_COLUMNS = (
  ('frame', 'confidence', 'success') + INTENSITY_COLUMNS + PRESENCE_COLUMNS
)


@dataclasses.dataclass(frozen=True)
class OpenFaceTrack:
  """Per-frame OpenFace output of one clip, rows ordered by `frame`."""

  face_success: np.ndarray  # bool [T]
  face_confidence: np.ndarray  # float32 [T]
  au_intensity: np.ndarray  # float32 [T, 17]
  au_presence: np.ndarray  # uint8 [T, 18]

  @property
  def num_frames(self):
    return len(self.face_success)

  def take(self, rows):
    """The track with its frames reordered (or selected) by row indices."""
    return OpenFaceTrack(
      *(
        np.asarray(getattr(self, f.name))[rows]
        for f in dataclasses.fields(self)
      )
    )


def read_csv(path):
  """Parses a FeatureExtraction CSV (`-aus` or full output).

  Column names are stripped, so both the `", "` header OpenFace writes and a
  plain `","` header work; columns other than the AU ones are ignored. Row
  `frame == k` is returned at index k-1: the `frame` column must hold 1..T,
  each once.

  Args:
    path: the CSV file.

  Returns:
    An `OpenFaceTrack`.

  Raises:
    DatasetLayoutError: missing columns, non-numeric values, bad `frame`
      numbers, or no rows. The message names the file.
  """
  path = epath.Path(path)
  rows = list(csv.reader(path.read_text().splitlines()))
  if not rows:
    raise DatasetLayoutError(f'{path}: OpenFace CSV is empty (no header)')
  header = [name.strip() for name in rows[0]]
  missing = [c for c in REQUIRED_COLUMNS if c not in header]
  if missing:
    raise DatasetLayoutError(
      f'{path}: OpenFace CSV lacks column(s) {", ".join(missing)} (run '
      'FeatureExtraction with -aus; header is '
      + ', '.join(header[:8])
      + ' ...)'
    )
  index = [header.index(c) for c in REQUIRED_COLUMNS]
  body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
  if not body:
    raise DatasetLayoutError(f'{path}: OpenFace CSV has no data rows')
  values = np.empty((len(body), len(index)), np.float64)
  for i, row in enumerate(body):
    try:
      values[i] = [float(row[j]) for j in index]
    except (ValueError, IndexError) as e:
      raise DatasetLayoutError(
        f'{path}: line {i + 2} is not a full numeric OpenFace row ({e})'
      ) from e
  frames = values[:, 0]
  if sorted(frames.tolist()) != list(range(1, len(body) + 1)):
    raise DatasetLayoutError(
      f'{path}: column frame must hold 1..{len(body)} once each, got '
      f'{frames[:10].astype(int).tolist()}...'
    )
  values = values[np.argsort(frames)]
  r0 = 3
  c0 = r0 + facs.NUM_INTENSITY_AUS
  return OpenFaceTrack(
    face_success=values[:, 2] >= 0.5,
    face_confidence=values[:, 1].astype(np.float32),
    au_intensity=values[:, r0:c0].astype(np.float32),
    # `_c` may be written as 0.0/1.00 after OpenFace's post-processing.
    au_presence=(values[:, c0:] >= 0.5).astype(np.uint8),
  )


def video_au_label(au_presence, face_success):
  """Per-video AU label (the paper's eq. 4) from per-frame presence flags.

  An AU is present in the video when it is present in at least half of the
  successfully tracked frames. OpenFace writes all-zero AUs for frames where
  tracking failed, so those frames are left out rather than counted as "AU
  absent".

  Args:
    au_presence: [T, 18] 0/1 presence flags (`_c` columns).
    face_success: [T] booleans, OpenFace's `success` column.

  Returns:
    (au_label, au_valid): uint8 [18] labels, and False when no frame was
    tracked (the labels are then all zero and must not be used).
  """
  presence = np.asarray(au_presence, dtype=np.float32)
  success = np.asarray(face_success, dtype=bool)
  if presence.ndim != 2 or presence.shape[1] != facs.NUM_AUS:
    raise ValueError(f'au_presence must be [T, 18], got {presence.shape}')
  if success.shape != presence.shape[:1]:
    raise ValueError(
      f'face_success has shape {success.shape}, expected {presence.shape[:1]}'
    )
  num_tracked = int(success.sum())
  if num_tracked == 0:
    return np.zeros(facs.NUM_AUS, np.uint8), False
  counts = (presence[success] >= 0.5).sum(axis=0)
  return (2 * counts >= num_tracked).astype(np.uint8), True
