"""FERV39k builder: TFDS conformance and built contents on the dummy data.

The dummy data sits under a zip-named parent (`2_ClipsforFaceCrop-002/`) and
has clip 0001 in two scenes, which must stay two examples.
"""

import logging
import pathlib

import dummy_clips
import pytest

from tfds_builders import parallel_builder
from tfds_builders import prepare
from tfds_builders.ferv39k import ferv39k_dataset_builder

DUMMY = pathlib.Path(ferv39k_dataset_builder.__file__).parent / 'dummy_data'
# Canonical order: Happy 0, Sad 1, Neutral 2, Angry 3, Surprise 4, ...
TRAIN = {'Action/Happy/0001': 0, 'Crime/Happy/0001': 0, 'School/Angry/0010': 3}
TEST = {'Action/Sad/0002': 1, 'School/Fear/0003': 6}
LENGTHS = {
  'Action/Happy/0001': 2,
  'Crime/Happy/0001': 3,
  'School/Angry/0010': 2,
  'Action/Sad/0002': 4,
  'School/Fear/0003': 3,
}


class Ferv39kTest(dummy_clips.BuilderTestCase):
  DATASET_CLASS = ferv39k_dataset_builder.Builder
  SPLITS = {'train': 3, 'test': 2}


@pytest.fixture(scope='module')
def built(tmp_path_factory):
  data_dir = tmp_path_factory.mktemp('ferv39k')
  return dummy_clips.build('ferv39k', DUMMY, data_dir)  # in one process


@pytest.fixture(scope='module')
def splits(built):
  return built[1]


def test_clip_ids_are_full_paths_with_canonical_labels(splits):
  for split, expected in (('train', TRAIN), ('test', TEST)):
    got = {ex['clip_id'].decode(): ex['label'] for ex in splits[split]}
    assert got == expected


def test_frames_and_aus_in_temporal_order(splits):
  for examples in splits.values():
    for ex in examples:
      clip_id = ex['clip_id'].decode()
      dummy_clips.check_example(ex, LENGTHS[clip_id], int(clip_id[-4:]))


def _files(root):
  return {
    p.relative_to(root): p.read_bytes() for p in root.rglob('*') if p.is_file()
  }


def test_prepare_with_workers_writes_the_same_files(
  built, tmp_path, monkeypatch, caplog
):
  monkeypatch.setattr(parallel_builder, '_LOG_EVERY', 2)  # 3 train clips
  args = ['ferv39k', '--manual_dir', str(DUMMY), '--workers', '2']
  with caplog.at_level(logging.INFO):
    assert prepare.main([*args, '--data_dir', str(tmp_path)]) == 0
  assert 'ferv39k: reading 3 clips in 2 process(es)' in caplog.text
  assert 'ferv39k: read 2/3 clips' in caplog.text  # progress, as in one
  serial = pathlib.Path(built[0].data_path)  # <data_dir>/ferv39k/<config>/1.0.0
  expected = _files(serial)
  got = _files(tmp_path.joinpath(*serial.parts[-3:]))
  assert len([p for p in expected if '.tfrecord' in p.name]) == 2
  assert got.keys() == expected.keys()
  for path, data in expected.items():
    assert got[path] == data, path
