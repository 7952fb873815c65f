"""DFEW: 7-class in-the-wild clips, five folds stored as five test sets."""

import re

from etils import epath
import tensorflow_datasets as tfds

from tfds_builders import clip_builder
from tfds_builders import facs
from tfds_builders import features
from tfds_builders import folds
from tfds_builders import layout
from tfds_builders import split_lists
from tfds_builders.errors import DatasetLayoutError

FRAME_SETS = ('clip_224x224', 'clip_224x224_16f')
_SPLIT_DIR = r'{}\(single[-_]labell?ed\)'  # Both spellings occur.


def find_frame_roots(manual_dir):
  """The DFEW frame-set folders present in the manual dir."""
  roots = []
  for name in FRAME_SETS:
    try:
      roots.append(layout.find_named_dir(manual_dir, re.escape(name), name))
    except DatasetLayoutError:
      continue
  return roots


def read_split_csv(path):
  """{5-digit clip id: label 0..6} of one DFEW `set_k.csv`."""
  return split_lists.read_split_list(
    path,
    _parse_row,
    dataset='DFEW',
    form='video_name,label',
    csv_columns=('video_name', 'label'),
  )


def _parse_row(video_name, label):
  try:
    clip_id, label = f'{int(video_name):05d}', int(label)
  except ValueError:
    raise ValueError(
      f'video_name and label must be integers, got {video_name!r}, {label!r}'
    ) from None
  if not 1 <= label <= facs.NUM_EXPRESSIONS:
    raise ValueError(f'unknown label {label} (expected 1..7)')
  return clip_id, label - 1


class Builder(clip_builder.ClipDatasetBuilder):
  """DFEW with OpenFace 2.2.0 action units."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [
    tfds.core.BuilderConfig(
      name='clip_224x224',
      description='Full-length face crops (Clip/clip_224x224, 11-847 frames).',
    ),
    tfds.core.BuilderConfig(
      name='clip_224x224_16f',
      description='The 16-frame set (Clip/clip_224x224_16f, 1.jpg..16.jpg).',
    ),
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
Request DFEW at https://dfew-dataset.github.io/ and extract it under
manual_dir, keeping `Clip/clip_224x224/<id>/*.jpg` (and/or
`Clip/clip_224x224_16f/<id>/*.jpg`) and
`EmoLabel_DataSplit/{train,test}(single-labeled)/set_{1..5}.csv`.
Extra folder levels (`clip_224x224/clip_224x224`), zip-named parents and the
`single_labeled` spelling are found automatically.
Splits `set_1`..`set_5` are the five official test sets; fold k trains on the
other four (`tfds_builders.fold_splits(k)`).
""" + clip_builder.OPENFACE_INSTRUCTIONS.format(
    name='dfew', example='Clip/clip_224x224/00001'
  )

  def _info(self):
    return self.dataset_info_from_configs(
      features=features.clip_features(facs.EXPRESSIONS),
      supervised_keys=('video', 'label'),
      homepage='https://dfew-dataset.github.io/',
    )

  def _split_generators(self, dl_manager):
    manual_dir = epath.Path(dl_manager.manual_dir)
    name = self.builder_config.name
    frames_root = layout.find_named_dir(
      manual_dir, re.escape(name), f'DFEW Clip/{name}'
    )
    split_dirs = {
      kind: layout.find_named_dir(
        manual_dir,
        _SPLIT_DIR.format(kind),
        f'DFEW EmoLabel_DataSplit/{kind}(single-labeled)',
      )
      for kind in ('test', 'train')
    }
    splits = folds.read_folds(
      lambda kind, k: split_dirs[kind] / f'set_{k}.csv', read_split_csv
    )
    return self._clip_splits(manual_dir, frames_root, splits)
