"""Aff-Wild2 builder: TFDS conformance and built windows on the dummy data.

Dummy videos (make_dummy_data.AFFWILD2_LABELS): the two subjects of
10-60-1280x720 (cropped_aligned, 16 frames each) and video7 (face-crop
frames, 33) in Train_Set; 1-30-1280x720 (cropped_aligned, 34 frames, frame
20 without a face) in Validation_Set. Frame m of a video is gray 6m + 10.
"""

import pathlib

import dummy_clips
import make_dummy_data
import numpy as np
import pytest

from tfds_builders.affwild2 import affwild2_dataset_builder

DUMMY = pathlib.Path(affwild2_dataset_builder.__file__).parent / 'dummy_data'
# Aff-Wild2 code -> canonical class, by hand; Other (7) and -1 have none.
CANONICAL = {-1: -1, 0: 2, 1: 3, 2: 5, 3: 6, 4: 0, 5: 1, 6: 4, 7: -1}
# The windows worked out by hand from the label files (16 frames each):
# video7's frames 17-32 have 7 labelled frames (< 8) and 1-30-1280x720's lack
# frame 20; the last frames of both are no full window.
WINDOWS = {
  'train': {
    # 6 Anger, 6 Disgust: a tie goes to the lower class (angry 3).
    '10-60-1280x720_left/00001': 3,
    # 4 Fear, 2 Other, 7 Surprise, 3 Happiness.
    '10-60-1280x720_right/00001': 4,
    # 10 Neutral, 6 Sadness.
    'video7/00001': 2,
  },
  'validation': {'1-30-1280x720/00001': 0},  # 10 Happiness, 4 Neutral
}


class Affwild2Test(dummy_clips.BuilderTestCase):
  DATASET_CLASS = affwild2_dataset_builder.Builder
  SPLITS = {'train': 3, 'validation': 1}


@pytest.fixture(scope='module')
def built(tmp_path_factory):
  data_dir = tmp_path_factory.mktemp('affwild2')
  return dummy_clips.build('affwild2/window_16', DUMMY, data_dir)


def test_windows_and_majority_labels(built):
  _, splits = built
  got = {
    split: {ex['clip_id'].decode(): ex['label'] for ex in examples}
    for split, examples in splits.items()
  }
  assert got == WINDOWS


def test_per_frame_labels_and_codes(built):
  _, splits = built
  for examples in splits.values():
    for ex in examples:
      video = ex['video_id'].decode()
      assert ex['clip_id'].decode() == f'{video}/00001'
      _, codes = make_dummy_data.AFFWILD2_LABELS[video]
      assert list(ex['expression_codes']) == codes[:16]
      assert list(ex['frame_labels']) == [CANONICAL[c] for c in codes[:16]]


def test_frames_and_aus_in_temporal_order(built):
  _, splits = built
  numbers = {
    name: number
    for number, name in enumerate(make_dummy_data.AFFWILD2_LABELS, start=1)
  }
  for examples in splits.values():
    for ex in examples:
      video = np.asarray(ex['video'])
      assert video.shape == (16, 8, 8, 3)
      pixel = video.reshape(16, -1).mean(axis=1)
      np.testing.assert_allclose(pixel, 6 * np.arange(1, 17) + 10, atol=2)
      # Each window is its folder's first 16 frame files, so it has the AUs
      # of the CSV rows of those files.
      c = numbers[ex['video_id'].decode()]
      track = dummy_clips.expected_track(16, c)
      for key, value in track.items():
        np.testing.assert_allclose(ex[key], value, atol=1e-6, err_msg=key)
      assert list(ex['au_label']) == dummy_clips.expected_au_label(16, c)
