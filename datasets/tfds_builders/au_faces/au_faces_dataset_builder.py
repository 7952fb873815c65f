"""`au_faces`: synthetic AU-driven face clips; needs no download.

README.md beside this file describes the data (TFDS reads it into
`builder.info.description`). Usage:

  import tfds_builders  # registers the builders
  builder = tfds.builder('au_faces/default', data_dir=..., workers=None)
  builder.download_and_prepare()

`workers` processes render the clips (default 1: none started; None: one
per CPU, `parallel_builder.ParallelBuilder`), writing the same files.
"""

import dataclasses
import functools
import io

import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

from tfds_builders import facs
from tfds_builders import features
from tfds_builders import parallel_builder
from tfds_builders.au_faces import dynamics
from tfds_builders.au_faces import synthesis

JPEG_QUALITY = 90


@dataclasses.dataclass(eq=False)
class AuFacesConfig(tfds.core.BuilderConfig):
  """Size, resolution, seed and generating knowledge of an au_faces build."""

  num_train: int = 1000
  num_test: int = 300
  image_size: int = 64
  min_frames: int = 16
  max_frames: int = 24
  seed: int = 0
  knowledge: tuple[tuple[float, ...], ...] = facs.PAPER_KNOWLEDGE
  # The fraction of clips in which each AU occurs (dynamics.occurrence_rates).
  au_rates: tuple[float, ...] = synthesis.DFEW_AU_RATES
  failure_rate: float = 0.05  # per-frame tracking failures
  clip_failure_rate: float = 0.01  # clips without any tracked frame
  min_per_class: int = 3

  def __post_init__(self):
    def check(ok, field, problem):
      if not ok:
        raise ValueError(f'au_faces config {self.name!r}: {field} {problem}')

    for field in ('num_train', 'num_test'):
      n = getattr(self, field)
      check(
        n >= self.min_per_class * facs.NUM_EXPRESSIONS,
        field,
        f'= {n} is below min_per_class * 7 = '
        f'{self.min_per_class * facs.NUM_EXPRESSIONS}',
      )
    check(self.min_per_class >= 1, 'min_per_class', 'must be >= 1')
    check(self.image_size >= 16, 'image_size', 'must be >= 16')
    check(
      1 <= self.min_frames <= self.max_frames,
      'min_frames/max_frames',
      f'must satisfy 1 <= min <= max, got {self.min_frames}, {self.max_frames}',
    )
    check(self.seed >= 0, 'seed', 'must be >= 0')
    for field in ('failure_rate', 'clip_failure_rate'):
      check(0 <= getattr(self, field) <= 1, field, 'must be in [0, 1]')
    rates = np.asarray(self.au_rates, np.float64)
    check(
      rates.shape == (facs.NUM_AUS,) and np.all((rates >= 0) & (rates <= 1)),
      'au_rates',
      f'must be {facs.NUM_AUS} values in [0, 1], got {self.au_rates}',
    )
    try:
      dynamics.knowledge_array(self.knowledge)
    except ValueError as e:
      raise ValueError(f'au_faces config {self.name!r}: {e}') from e


class Builder(parallel_builder.ParallelBuilder):
  """Synthetic face clips driven by AU activations drawn from K."""

  VERSION = tfds.core.Version('1.1.0')
  RELEASE_NOTES = {
    '1.0.0': 'Initial release.',
    '1.1.0': 'AUs occur at DFEW rates: every AU is positive in some clips.',
  }
  BUILDER_CONFIGS = [
    AuFacesConfig(
      name='default',
      description='1000 train / 300 test clips, 64x64, 16-24 frames.',
    ),
    AuFacesConfig(
      name='tiny',
      description='42 train / 21 test clips, 32x32, for tests.',
      num_train=42,
      num_test=21,
      image_size=32,
      min_frames=16,
      max_frames=20,
      clip_failure_rate=0.1,
    ),
  ]
  DEFAULT_CONFIG_NAME = 'default'

  def _info(self):
    return self.dataset_info_from_configs(
      features=features.clip_features(facs.EXPRESSIONS),
      supervised_keys=('video', 'label'),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # everything is generated
    return {
      split: self._generate_examples(split) for split in synthesis.SPLIT_IDS
    }

  def _generate_examples(self, split):
    config = self.builder_config
    num_clips = config.num_train if split == 'train' else config.num_test
    # Clip ids are unique over both splits: test ids follow train ids.
    first_id = 0 if split == 'train' else config.num_train
    labels = synthesis.clip_labels(
      num_clips, config.min_per_class, config.seed, split
    )
    jobs = [
      (split, index, int(label), f'synthetic_{first_id + index:05d}')
      for index, label in enumerate(labels)
    ]
    render = functools.partial(_render_example, config=config)
    yield from self._read_in_order(
      render, jobs, verbs=('rendering', 'rendered')
    )


def _render_example(job, *, config):
  """(clip id, example) of the job (split, index, label, clip id)."""
  split, index, label, clip_id = job
  rng = synthesis.clip_rng(config.seed, split, index)
  clip = synthesis.synthesize_clip(rng, label, config)
  return clip_id, {
    'video': [_jpeg(frame) for frame in clip['frames']],
    'label': label,
    'clip_id': clip_id,
    'num_frames': np.int32(len(clip['frames'])),
    **{k: clip[k] for k in _ANNOTATION_KEYS},
  }


_ANNOTATION_KEYS = (
  'face_success',
  'face_confidence',
  'au_intensity',
  'au_presence',
  'au_label',
  'au_valid',
)


def _jpeg(frame):
  buffer = io.BytesIO()
  Image.fromarray(frame).save(buffer, format='JPEG', quality=JPEG_QUALITY)
  return buffer.getvalue()
