"""DFEW: 7-class in-the-wild clips, five folds stored as five test sets."""

import csv
import re

from etils import epath
import tensorflow_datasets as tfds

from tfds_builders import clip_builder
from tfds_builders import facs
from tfds_builders import features
from tfds_builders import folds
from tfds_builders import layout
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
  path = epath.Path(path)
  if not path.exists():
    raise DatasetLayoutError(f'{path}: DFEW split file is missing')
  rows = [r for r in csv.reader(path.read_text().splitlines()) if r]
  header = [c.strip() for c in rows[0]] if rows else []
  if 'video_name' not in header or 'label' not in header:
    raise DatasetLayoutError(
      f'{path}: expected a header with columns video_name,label, got {header}'
    )
  name_col, label_col = header.index('video_name'), header.index('label')
  clips = {}
  for line, row in enumerate(rows[1:], start=2):
    try:
      clip_id = f'{int(row[name_col]):05d}'
      label = int(row[label_col])
    except (ValueError, IndexError) as e:
      raise DatasetLayoutError(
        f'{path}: line {line} is malformed: {row}'
      ) from e
    if not 1 <= label <= facs.NUM_EXPRESSIONS:
      raise DatasetLayoutError(
        f'{path}: line {line}: unknown label {label} (expected 1..7)'
      )
    if clip_id in clips:
      raise DatasetLayoutError(f'{path}: clip {clip_id} is listed twice')
    clips[clip_id] = label - 1
  return clips


class Dfew(clip_builder.ClipDatasetBuilder):
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
    lists = {}
    for kind in ('test', 'train'):
      split_dir = layout.find_named_dir(
        manual_dir,
        _SPLIT_DIR.format(kind),
        f'DFEW EmoLabel_DataSplit/{kind}(single-labeled)',
      )
      files = [
        split_dir / f'set_{k}.csv' for k in range(1, folds.NUM_FOLDS + 1)
      ]
      lists[kind] = [(f, read_split_csv(f)) for f in files]
    folds.check_folds(lists['test'], lists['train'])
    return {
      split: self._generate_examples(
        manual_dir,
        [
          clip_builder.ClipRef(clip_id, label, frames_root / clip_id)
          for clip_id, label in sorted(clips.items())
        ],
      )
      for split, (_, clips) in zip(
        folds.fold_split_names(), lists['test'], strict=True
      )
    }
