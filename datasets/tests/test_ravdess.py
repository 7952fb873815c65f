"""RAVDESS builder: TFDS conformance and built contents on the dummy data.

The dummy data has actor 1's eight speech emotions under a zip-named parent
(`Video_Speech_Actor_01/Actor_01/`), a video-only copy of one of them, and
two song clips of actor 2; frames are the face-crop stage's output.
"""

import pathlib

import dummy_clips
import make_dummy_data
import pytest

from tfds_builders.ravdess import ravdess_dataset_builder

DUMMY = pathlib.Path(ravdess_dataset_builder.__file__).parent / 'dummy_data'
# Emotion code -> canonical class, written out by hand (calm -> neutral).
CANONICAL = {1: 2, 2: 2, 3: 0, 4: 1, 5: 3, 6: 6, 7: 5, 8: 4}


class RavdessTest(dummy_clips.BuilderTestCase):
  DATASET_CLASS = ravdess_dataset_builder.Builder
  SPLITS = {'actor_01': 8, 'actor_02': 2}


@pytest.fixture(scope='module')
def built(tmp_path_factory):
  data_dir = tmp_path_factory.mktemp('ravdess')
  return dummy_clips.build('ravdess/7_classes', DUMMY, data_dir)


def videos():
  """{clip id: (clip number, frames)} of the dummy videos."""
  return {
    video.split('/')[-1]: (number, length)
    for number, (video, length) in enumerate(
      make_dummy_data.RAVDESS_VIDEOS.items(), start=1
    )
  }


def test_one_split_per_actor_with_each_recording_once(built):
  _, splits = built
  got = {
    split: sorted(ex['clip_id'].decode() for ex in examples)
    for split, examples in splits.items()
  }
  # The video-only copy 02-01-02-... of 01-01-02-... is not stored.
  assert got == {
    'actor_01': [
      '01-01-01-01-01-01-01',
      '01-01-02-01-01-01-01',
      '01-01-03-02-01-01-01',
      '01-01-04-01-02-01-01',
      '01-01-05-02-01-02-01',
      '01-01-06-01-01-01-01',
      '01-01-07-01-01-01-01',
      '01-01-08-02-02-02-01',
    ],
    'actor_02': ['01-02-05-02-02-01-02', '02-02-03-01-01-01-02'],
  }


def test_labels_from_the_emotion_code(built):
  builder, splits = built
  emotions = builder.info.features['emotion'].names
  assert emotions == [
    'neutral', 'calm', 'happy', 'sad', 'angry', 'fearful', 'disgust',
    'surprised',
  ]  # fmt: skip
  for examples in splits.values():
    for ex in examples:
      codes = [int(c) for c in ex['clip_id'].decode().split('-')]
      assert ex['label'] == CANONICAL[codes[2]]
      assert ex['emotion'] == codes[2] - 1
      assert ex['vocal_channel'] == codes[1] - 1  # speech 0, song 1
      assert ex['intensity'] == codes[3] - 1  # normal 0, strong 1
      assert ex['actor'] == codes[6]


def test_frames_and_aus_in_temporal_order(built):
  _, splits = built
  expected = videos()
  for examples in splits.values():
    for ex in examples:
      number, length = expected[ex['clip_id'].decode()]
      dummy_clips.check_example(ex, length, number)


def test_actor_splits():
  train, test = ravdess_dataset_builder.actor_splits([21, 22, 23, 24])
  assert test == 'actor_21+actor_22+actor_23+actor_24'
  assert train.split('+') == [f'actor_{a:02d}' for a in range(1, 21)]
  with pytest.raises(ValueError, match='1..24'):
    ravdess_dataset_builder.actor_splits([25])
