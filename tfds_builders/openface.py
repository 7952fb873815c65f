"""OpenFace 2.2.0 FeatureExtraction output: parsing and per-video AU labels."""

import numpy as np

from tfds_builders import facs


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
