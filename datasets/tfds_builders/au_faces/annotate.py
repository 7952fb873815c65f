"""OpenFace-style AU annotations of a synthetic clip, from its activations.

They imitate OpenFace 2.2.0 FeatureExtraction output: intensities `_r` in
[0, 5] with two decimals for the 17 intensity AUs, 0/1 presence `_c` for all
18 AUs, a per-frame `confidence` and `success`. Frames where tracking
failed carry all-zero AUs and a low confidence, as OpenFace writes them.
"""

import numpy as np

from tfds_builders import facs
from tfds_builders import openface

INTENSITY_NOISE = 0.2  # std of the intensity noise, in 0..5 units
PRESENCE_NOISE = 0.08  # std of the activation noise before thresholding
PRESENCE_THRESHOLD = 0.2  # activation at which an AU counts as present
_INTENSITY_COLUMNS = np.array(
  [facs.AU_PRESENCE_NAMES.index(n) for n in facs.AU_INTENSITY_NAMES]
)


def openface_annotations(rng, activation, failure_rate, clip_failure_rate):
  """Noisy per-frame OpenFace outputs and the per-video AU label.

  Args:
    rng: a `np.random.Generator`.
    activation: [T, 18] true AU activations in [0, 1].
    failure_rate: probability that tracking fails on a frame.
    clip_failure_rate: probability that tracking fails on every frame.

  Returns:
    A dict with `face_success` bool [T], `face_confidence` float32 [T],
    `au_intensity` float32 [T, 17], `au_presence` uint8 [T, 18], and the
    per-video `au_label` uint8 [18] and `au_valid` bool (eq. 4).
  """
  activation = np.asarray(activation, np.float64)
  num_frames = activation.shape[0]
  if rng.uniform() < clip_failure_rate:
    success = np.zeros(num_frames, bool)
  else:
    success = rng.uniform(size=num_frames) >= failure_rate
  intensity = 5.0 * activation[:, _INTENSITY_COLUMNS] + rng.normal(
    0.0, INTENSITY_NOISE, (num_frames, facs.NUM_INTENSITY_AUS)
  )
  intensity = np.round(np.clip(intensity, 0.0, 5.0), 2)
  noisy = activation + rng.normal(0.0, PRESENCE_NOISE, activation.shape)
  presence = (noisy >= PRESENCE_THRESHOLD).astype(np.uint8)
  confidence = np.where(
    success,
    rng.uniform(0.85, 0.98, num_frames),
    rng.uniform(0.0, 0.3, num_frames),
  )
  intensity[~success] = 0.0
  presence[~success] = 0
  au_label, au_valid = openface.video_au_label(presence, success)
  return {
    'face_success': success,
    'face_confidence': np.round(confidence, 2).astype(np.float32),
    'au_intensity': intensity.astype(np.float32),
    'au_presence': presence,
    'au_label': au_label,
    'au_valid': au_valid,
  }
