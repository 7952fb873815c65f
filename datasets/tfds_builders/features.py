"""The feature set every builder emits: the public contract of the datasets."""

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import facs


def clip_features(class_names, extra=None):
  """Features of one clip: JPEG frames, label, and OpenFace AU annotations.

  Args:
    class_names: the expression classes, in label-index order; None when
      they are known only once the raw files are read (the builder then sets
      `info.features['label'].names` before it writes an example); () for
      unlabelled clips, whose `label` is -1 (TFDS's "no label").
    extra: a dataset's own features, added to the common ones.

  Returns:
    A `tfds.features.FeaturesDict` with `video` [T, H, W, 3] (JPEG frames in
    temporal order), `label`, `clip_id`, `num_frames`, the per-frame OpenFace
    fields `face_success` [T], `face_confidence` [T], `au_intensity` [T, 17],
    `au_presence` [T, 18], and the per-video `au_label` [18] (eq. 4) with
    `au_valid` (False when the clip has no usable AU annotation).
  """
  tensor = tfds.features.Tensor
  if class_names is None:
    label = tfds.features.ClassLabel()
  else:
    label = tfds.features.ClassLabel(names=list(class_names))
  return tfds.features.FeaturesDict(
    {
      'video': tfds.features.Sequence(
        tfds.features.Image(shape=(None, None, 3), encoding_format='jpeg')
      ),
      'label': label,
      'clip_id': tfds.features.Text(),
      'num_frames': np.int32,
      'face_success': tensor(shape=(None,), dtype=np.bool_),
      'face_confidence': tensor(shape=(None,), dtype=np.float32),
      'au_intensity': tensor(
        shape=(None, facs.NUM_INTENSITY_AUS), dtype=np.float32
      ),
      'au_presence': tensor(shape=(None, facs.NUM_AUS), dtype=np.uint8),
      'au_label': tensor(shape=(facs.NUM_AUS,), dtype=np.uint8),
      'au_valid': np.bool_,
      **(extra or {}),
    }
  )
