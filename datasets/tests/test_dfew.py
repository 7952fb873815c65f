"""DFEW builder: TFDS conformance and built contents on the dummy data.

The dummy data uses the doubled `clip_224x224/clip_224x224` folder and the
`train(single_labeled)` spelling; its 16-frame clips are named 1.jpg..16.jpg.
"""

import pathlib

import dummy_clips
import make_dummy_data
import pytest
import tensorflow_datasets as tfds

import tfds_builders
from tfds_builders.dfew import dfew_dataset_builder

DUMMY = pathlib.Path(dfew_dataset_builder.__file__).parent / 'dummy_data'
# The dummy split files: test set k -> {clip id: DFEW label 1..7}.
TEST_SETS = make_dummy_data.DFEW_TEST_SETS
LENGTHS = make_dummy_data.DFEW_LENGTHS


class DfewTest(dummy_clips.BuilderTestCase):
  DATASET_CLASS = dfew_dataset_builder.Builder
  SPLITS = {'set_1': 2, 'set_2': 1, 'set_3': 2, 'set_4': 1, 'set_5': 1}


@pytest.fixture(scope='module', params=['clip_224x224', 'clip_224x224_16f'])
def built(request, tmp_path_factory):
  name = f'dfew/{request.param}'
  data_dir = tmp_path_factory.mktemp('dfew')
  return request.param, dummy_clips.build(name, DUMMY, data_dir)


def test_splits_are_the_test_sets_with_labels_minus_one(built):
  _, (_, splits) = built
  for k, clips in TEST_SETS.items():
    got = {ex['clip_id'].decode(): ex['label'] for ex in splits[f'set_{k}']}
    assert got == {f'{c:05d}': label - 1 for c, label in clips.items()}


def test_frames_and_aus_in_temporal_order(built):
  config, (_, splits) = built
  for examples in splits.values():
    for ex in examples:
      c = int(ex['clip_id'])
      length = 16 if config.endswith('16f') else LENGTHS[c]
      dummy_clips.check_example(ex, length, c)


def test_fold_train_split_is_the_other_test_sets(built):
  builder, _ = built[1]
  train, test = tfds_builders.fold_splits(2)
  ids = lambda split: sorted(  # noqa: E731
    ex['clip_id'].decode()
    for ex in tfds.as_numpy(builder.as_dataset(split=split))
  )
  assert ids(test) == ['00002']
  assert ids(train) == ['00001', '00005', '00007', '00010', '00013', '00014']
