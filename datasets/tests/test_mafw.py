"""MAFW builder: both class configs, on dummy data with PNG frames.

Clip 00040 has 11 frames named 1.png..11.png, so its order checks the
numeric frame sort and the lexicographic OpenFace row join.
"""

import pathlib

import dummy_clips
import make_dummy_data
import pytest

from tfds_builders import facs
from tfds_builders.mafw import mafw_dataset_builder

DUMMY = pathlib.Path(mafw_dataset_builder.__file__).parent / 'dummy_data'
TEST_SETS = make_dummy_data.MAFW_TEST_SETS
LENGTHS = make_dummy_data.MAFW_LENGTHS
# MAFW word -> canonical index, written out by hand for the 7-class config.
SEVEN = {
  'happiness': 0,
  'sadness': 1,
  'neutral': 2,
  'anger': 3,
  'surprise': 4,
  'disgust': 5,
  'fear': 6,
}


class Mafw11Test(dummy_clips.BuilderTestCase):
  DATASET_CLASS = mafw_dataset_builder.Builder
  BUILDER_CONFIG_NAMES_TO_TEST = ['11_classes']
  SPLITS = {'set_1': 2, 'set_2': 2, 'set_3': 1, 'set_4': 2, 'set_5': 2}


class Mafw7Test(dummy_clips.BuilderTestCase):
  DATASET_CLASS = mafw_dataset_builder.Builder
  BUILDER_CONFIG_NAMES_TO_TEST = ['7_classes']
  SPLITS = {'set_1': 1, 'set_2': 2, 'set_3': 1, 'set_4': 1, 'set_5': 2}


@pytest.fixture(scope='module', params=['11_classes', '7_classes'])
def built(request, tmp_path_factory):
  data_dir = tmp_path_factory.mktemp('mafw')
  _, splits = dummy_clips.build(f'mafw/{request.param}', DUMMY, data_dir)
  return request.param, splits


def test_labels(built):
  config, splits = built
  for k, clips in TEST_SETS.items():
    got = {ex['clip_id'].decode(): ex['label'] for ex in splits[f'set_{k}']}
    if config == '11_classes':
      expected = {c: facs.MAFW_11_CLASSES.index(w) for c, w in clips.items()}
    else:
      expected = {c: SEVEN[w] for c, w in clips.items() if w in SEVEN}
    assert got == expected


def test_png_frames_and_aus_in_temporal_order(built):
  _, splits = built
  for examples in splits.values():
    for ex in examples:
      clip_id = ex['clip_id'].decode()
      dummy_clips.check_example(ex, LENGTHS[clip_id], int(clip_id))
