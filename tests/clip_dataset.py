"""A tiny TFDS dataset with the real clip features, for pipeline tests.

Clips have 6..20 frames of 24x40 pixels (not square, so the resize modes
differ). Every pixel of frame `f` of clip `i` has the value
`(10 * i + f) % 256` in the red channel, so a test can tell from the decoded
pixels which clip and frame it got; green encodes the label.
"""

import io

import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

from tfds_builders import facs
from tfds_builders import features

NUM_TRAIN = 24
NUM_TEST = 11
CLASSES = facs.EXPRESSIONS


def clip_length(i):
  return 6 + (i * 7) % 15


def _jpeg(value, label):
  frame = np.zeros((24, 40, 3), np.uint8)
  frame[..., 0] = value
  frame[..., 1] = 30 * label
  buf = io.BytesIO()
  Image.fromarray(frame).save(buf, format='JPEG', quality=100)
  return buf.getvalue()


class ClipTestSet(tfds.core.GeneratorBasedBuilder):
  """Synthetic clips; label i % 7; AU label from the clip index bits."""

  VERSION = tfds.core.Version('1.0.0')

  def _info(self):
    return self.dataset_info_from_configs(
      features=features.clip_features(CLASSES)
    )

  def _split_generators(self, dl_manager):
    del dl_manager
    return {
      'train': self._generate_examples(0, NUM_TRAIN),
      'test': self._generate_examples(1000, NUM_TEST),
    }

  def _generate_examples(self, offset, count):
    for j in range(count):
      i = offset + j
      n = clip_length(i)
      label = i % len(CLASSES)
      au_label = np.array([(i >> b) & 1 for b in range(18)], np.uint8)
      yield (
        i,
        {
          'video': [_jpeg((10 * j + f) % 256, label) for f in range(n)],
          'label': label,
          'clip_id': f'clip{i}',
          'num_frames': n,
          'face_success': np.ones([n], np.bool_),
          'face_confidence': np.ones([n], np.float32),
          'au_intensity': np.zeros([n, 17], np.float32),
          'au_presence': np.zeros([n, 18], np.uint8),
          'au_label': au_label,
          'au_valid': j % 5 != 0,
        },
      )


def prepare(data_dir):
  builder = ClipTestSet(data_dir=str(data_dir))
  builder.download_and_prepare()
  return builder
