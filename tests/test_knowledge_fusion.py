"""K fused over four datasets (paper section 3.1, c = 2.5), end to end.

DFEW, MAFW (7 classes), RAVDESS and Aff-Wild2 are built from their dummy
data into one TFDS data dir and `python -m audfer_jax.method` fuses
them. The expected K is worked out here from the dummy-data encoding
(dummy_clips.py) and the paper's formulas, written out loop by loop.
"""

import json
import pathlib

import dummy_clips
import make_dummy_data
import numpy as np
import pytest

from audfer_jax.method import __main__ as extract
import tfds_builders

PACKAGE = pathlib.Path(tfds_builders.__file__).parent
ALL_SETS = 'set_1+set_2+set_3+set_4+set_5'
# Canonical class of each dataset's labels, by hand.
MAFW_SEVEN = {
  'happiness': 0,
  'sadness': 1,
  'neutral': 2,
  'anger': 3,
  'surprise': 4,
  'disgust': 5,
  'fear': 6,
}
RAVDESS_CANONICAL = {1: 2, 2: 2, 3: 0, 4: 1, 5: 3, 6: 6, 7: 5, 8: 4}
AFFWILD2_CANONICAL = {-1: -1, 0: 2, 1: 3, 2: 5, 3: 6, 4: 0, 5: 1, 6: 4, 7: -1}


def dfew_clips():
  """(clip number, frames, per-frame classes) of every DFEW clip."""
  for test_set in make_dummy_data.DFEW_TEST_SETS.values():
    for clip, label in test_set.items():
      length = make_dummy_data.DFEW_LENGTHS[clip]
      yield clip, length, [label - 1] * length


def mafw_clips():
  for test_set in make_dummy_data.MAFW_TEST_SETS.values():
    for clip, word in test_set.items():
      if word in MAFW_SEVEN:
        length = make_dummy_data.MAFW_LENGTHS[clip]
        yield int(clip), length, [MAFW_SEVEN[word]] * length


def ravdess_clips():
  videos = make_dummy_data.RAVDESS_VIDEOS
  for number, (video, length) in enumerate(videos.items(), start=1):
    emotion = int(video.split('/')[-1].split('-')[2])
    yield number, length, [RAVDESS_CANONICAL[emotion]] * length


def affwild2_train_windows():
  # The kept train windows are the first 16 frames of each train video (see
  # test_affwild2.WINDOWS), whose frames are the first 16 of their folders.
  labels = make_dummy_data.AFFWILD2_LABELS
  for number, (split, codes) in enumerate(labels.values(), start=1):
    if split == 'Train_Set':
      yield number, 16, [AFFWILD2_CANONICAL[c] for c in codes[:16]]


def interpolated(column, tracked):
  """Eq. 1 for one AU of one clip: zeros filled from non-zero neighbours."""
  out = list(column)
  known = [t for t in tracked if column[t] != 0]
  for t in tracked:
    if column[t] != 0 or not known:
      continue
    before = [k for k in known if k < t]
    after = [k for k in known if k > t]
    if not before:
      out[t] = column[after[0]]
    elif not after:
      out[t] = column[before[-1]]
    else:
      b, a = before[-1], after[0]
      out[t] = column[b] + (column[a] - column[b]) * (t - b) / (a - b)
  return out


def dataset_knowledge(clips):
  """K_d [7, 18]: medians, centred by (max + min) / 2, AU28, sigmoid."""
  frames = {c: [] for c in range(7)}
  for number, length, labels in clips:
    track = dummy_clips.expected_track(length, number)
    intensity = track['au_intensity'].astype(np.float64)
    tracked = [t for t in range(length) if track['face_success'][t]]
    columns = [interpolated(intensity[:, j], tracked) for j in range(17)]
    for t in tracked:
      if labels[t] >= 0:
        frames[labels[t]].append([columns[j][t] for j in range(17)])
  medians = np.array([np.median(frames[c], axis=0) for c in range(7)])
  scores = medians - (medians.max() + medians.min()) / 2
  au28 = np.full((7, 1), scores.mean())
  scores = np.concatenate([scores[:, :16], au28, scores[:, 16:]], axis=1)
  return 1 / (1 + np.exp(-scores))


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  data_dir = tmp_path_factory.mktemp('tfds')
  for name in (
    'dfew/clip_224x224',
    'mafw/7_classes',
    'ravdess/7_classes',
    'affwild2/window_16',
  ):
    manual = PACKAGE / name.split('/')[0] / 'dummy_data'
    dummy_clips.build(name, manual, data_dir)
  return str(data_dir)


def test_four_datasets_fused_with_c_2_5(data_dir, tmp_path):
  output = tmp_path / 'k.json'
  extract.main(
    ['--dataset', 'dfew/clip_224x224', '--split', ALL_SETS]
    + ['--dataset', 'mafw/7_classes', '--split', ALL_SETS]
    + ['--dataset', 'ravdess/7_classes', '--split', 'all']
    + ['--dataset', 'affwild2/window_16', '--split', 'train']
    + ['--data_dir', data_dir, '--output', str(output)]
  )
  data = json.loads(output.read_text())
  assert data['fusion_offset'] == 2.5
  records = {r['name'].split('/')[0]: r for r in data['datasets']}
  sources = {
    'dfew': list(dfew_clips()),
    'mafw': list(mafw_clips()),
    'ravdess': list(ravdess_clips()),
    'affwild2': list(affwild2_train_windows()),
  }
  assert records['ravdess']['num_clips'] == 10
  assert records['affwild2']['num_clips'] == 3
  # Aff-Wild2 counts frames by their own label: tracked (all but each
  # window's frame 2) and labelled (not -1 / Other).
  affwild2_frames = np.zeros(7, int)
  for _, _, labels in sources['affwild2']:
    for t, label in enumerate(labels):
      if label >= 0 and t != 1:
        affwild2_frames[label] += 1
  assert records['affwild2']['num_frames_per_class'] == list(affwild2_frames)
  matrices = {name: dataset_knowledge(c) for name, c in sources.items()}
  for name, matrix in matrices.items():
    np.testing.assert_allclose(
      records[name]['knowledge'], matrix, atol=1e-12, err_msg=name
    )
  fused = 1 / (1 + np.exp(-(sum(matrices.values()) - 2.5)))
  np.testing.assert_allclose(data['knowledge'], fused, atol=1e-12)
