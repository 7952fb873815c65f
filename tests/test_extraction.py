"""Tests for the knowledge extraction (audfer_jax.method.extraction), step by step
on hand-made arrays, then end to end on au_faces through the CLI."""

import dataclasses
import json
import re
import sys

import numpy as np
from PIL import Image
import pytest
import scipy.stats

from audfer_jax.method import __main__ as extract
from audfer_jax.method import extraction
from audfer_jax.method import knowledge
from tfds_builders import facs

INTENSITY_COLUMNS = [j for j in range(18) if j != knowledge.AU28_INDEX]


def _sigmoid(x):
  return 1 / (1 + np.exp(-np.asarray(x, np.float64)))


def _logit(p):
  p = np.asarray(p, np.float64)
  return np.log(p / (1 - p))


def test_interpolate_zeros_over_tracked_frames():
  success = np.array([True, True, False, True, True, True])
  intensity = np.zeros((6, 17))
  # AU a: zero at both borders and inside; the untracked frame (5.0) must be
  # neither used as a neighbour nor changed.
  intensity[:, 0] = [0, 1, 5, 0, 3, 0]
  intensity[:, 2] = [1, 2, 3, 4, 5, 6]  # no zero: unchanged
  got = extraction.interpolate_zeros(intensity, success)
  # Frame 3 lies between frame 1 (1.0) and frame 4 (3.0): 1 + 2 * 2 / 3.
  np.testing.assert_allclose(got[:, 0], [1, 1, 5, 1 + 4 / 3, 3, 3])
  np.testing.assert_array_equal(got[:, 1], 0)  # all zero: stays zero
  np.testing.assert_array_equal(got[:, 2], intensity[:, 2])


def test_select_frames_by_theta():
  success = np.array([True, True, False, True])
  probabilities = np.array([[0.9, 0.1], [0.4, 0.6], [0.9, 0.1], [0.5, 0.5]])
  keep = extraction.select_frames(success, probabilities, label=0, theta=0.5)
  # Frame 3 has exactly theta: not above it.
  np.testing.assert_array_equal(keep, [True, False, False, False])
  keep = extraction.select_frames(success, probabilities, label=1, theta=0.3)
  np.testing.assert_array_equal(keep, [False, True, False, True])
  np.testing.assert_array_equal(extraction.select_frames(success), success)


def test_class_medians():
  frames = np.array([1.0, 3.0, 2.0, 10.0, 7.0])[:, None] * np.arange(1, 18)
  labels = np.array([0, 0, 0, 1, 1])
  got = extraction.class_medians(frames, labels, ['a', 'b'])
  np.testing.assert_allclose(got[0], 2 * np.arange(1, 18))
  np.testing.assert_allclose(got[1], 8.5 * np.arange(1, 18))
  with pytest.raises(ValueError, match=r"\['c'\].*theta"):
    extraction.class_medians(frames, labels, ['a', 'b', 'c'])


def test_centre_uses_the_whole_matrix_without_scaling():
  medians = np.array([[0.5, 4.5], [1.0, 2.0]])
  np.testing.assert_allclose(
    extraction.centre(medians), [[-2.0, 2.0], [-1.5, -0.5]]
  )


def test_insert_au28_mean_of_the_other_scores():
  scores = np.arange(2 * 17, dtype=np.float64).reshape(2, 17)
  got = extraction.insert_au28(scores)
  assert got.shape == (2, 18)
  np.testing.assert_array_equal(got[:, knowledge.AU28_INDEX], scores.mean())
  np.testing.assert_array_equal(got[:, INTENSITY_COLUMNS], scores)


def test_steps_3_reproduce_the_upstream_dfew_matrix():
  # Medians that are logit(K_DFEW_v1) up to an offset: centring removes the
  # offset (logit(K_v1) is symmetric), the AU28 fill must give exactly the
  # upstream AU28 column, the sigmoid the rest.
  k_v1 = np.asarray(knowledge.K_DFEW_V1)
  medians = _logit(k_v1[:, INTENSITY_COLUMNS]) + 1.7
  np.testing.assert_allclose(
    extraction.dataset_knowledge(medians), k_v1, atol=1e-12
  )


def test_fuse():
  a = np.full((2, 18), 0.2)
  b = np.full((2, 18), 0.9)
  np.testing.assert_allclose(
    extraction.fuse([a, b], offset=0.5), _sigmoid(0.2 + 0.9 - 0.5)
  )
  # Default offset: n / 2 + 0.5, i.e. the paper's 2.5 for four datasets.
  np.testing.assert_allclose(
    extraction.fuse([a, b, a, b]), _sigmoid(2 * 1.1 - 2.5)
  )
  np.testing.assert_allclose(extraction.fuse([a, b]), _sigmoid(1.1 - 1.5))
  # One dataset: returned as it is, unless an offset is asked for.
  np.testing.assert_array_equal(extraction.fuse([a]), a)
  np.testing.assert_allclose(extraction.fuse([a], 1.0), _sigmoid(0.2 - 1.0))


def _clip(clip_id, label, values, success=None, valid=True):
  values = np.asarray(values, np.float64)
  return {
    'clip_id': clip_id,
    'label': label,
    'face_success': np.ones(len(values), bool) if success is None else success,
    'au_intensity': values[:, None] * np.ones(17),
    'au_valid': valid,
  }


def test_extract_dataset_combines_the_steps():
  clips = [
    _clip('a', 0, [0, 2, 0, 4]),  # -> 2, 2, 3, 4
    _clip('b', 0, [1, 1, 9], success=np.array([True, True, False])),
    _clip('c', 1, [3, 3]),
    _clip('d', 1, [5, 5], valid=False),  # skipped
  ]
  k, stats = extraction.extract_dataset(clips, ['x', 'y'])
  # Class x frames: 2 2 3 4 1 1 -> median 2; class y: 3. Centre 2.5.
  expected = np.insert(np.array([[-0.5] * 17, [0.5] * 17]), 16, 0.0, axis=1)
  np.testing.assert_allclose(k, _sigmoid(expected))
  assert stats == {
    'num_clips': 4,
    'num_clips_with_aus': 3,
    'num_frames_per_class': [6, 2],
  }
  # Predictions keep, for clip a, only its last frame (4): x median 1.
  predictions = {
    'a': np.array([[0.2, 0.8]] * 3 + [[0.9, 0.1]]),
    'b': np.array([[0.9, 0.1]] * 3),
    'c': np.array([[0.1, 0.9]] * 2),
  }
  k, stats = extraction.extract_dataset(clips, ['x', 'y'], 0.5, predictions)
  assert stats['num_frames_per_class'] == [3, 2]
  # x: 4 1 1 -> 1; y: 3; centre 2.
  expected = np.insert(np.array([[-1.0] * 17, [1.0] * 17]), 16, 0.0, axis=1)
  np.testing.assert_allclose(k, _sigmoid(expected))
  del predictions['c']
  with pytest.raises(ValueError, match=r"p\.npz: no entry for clip 'c'"):
    extraction.extract_dataset(clips, ['x', 'y'], 0.5, predictions, 'p.npz')


def test_extract_dataset_with_per_frame_labels():
  # Aff-Wild2 windows: each frame counts for its own class; -1 for none.
  a = _clip('a', 0, [1, 2, 6, 8])
  a['frame_labels'] = np.array([0, 0, 1, -1])
  b = _clip('b', 1, [4, 3], success=np.array([True, False]))
  b['frame_labels'] = np.array([1, 0])  # frame 2 untracked: dropped
  k, stats = extraction.extract_dataset([a, b], ['x', 'y'])
  assert stats['num_frames_per_class'] == [2, 2]
  # x: 1 2 -> 1.5; y: 6 4 -> 5; centre 3.25.
  expected = np.insert(np.array([[-1.75] * 17, [1.75] * 17]), 16, 0.0, axis=1)
  np.testing.assert_allclose(k, _sigmoid(expected))
  # theta applies to each frame's own class: a's frame 2 and b's frame 1 fail.
  predictions = {
    'a': np.array([[0.9, 0.1], [0.1, 0.9], [0.2, 0.8], [0.5, 0.5]]),
    'b': np.array([[0.4, 0.6], [0.5, 0.5]]),
  }
  k, stats = extraction.extract_dataset([a, b], ['x', 'y'], 0.7, predictions)
  assert stats['num_frames_per_class'] == [1, 1]
  # x: 1; y: 6; centre 3.5.
  expected = np.insert(np.array([[-2.5] * 17, [2.5] * 17]), 16, 0.0, axis=1)
  np.testing.assert_allclose(k, _sigmoid(expected))


# The generating matrix of the end-to-end test: the paper's K with its rows
# and its intensity columns permuted, so it cannot be recovered by accident.
def _generating_matrix():
  paper = np.asarray(facs.PAPER_KNOWLEDGE)[[3, 4, 5, 6, 0, 1, 2]]
  paper[:, INTENSITY_COLUMNS] = paper[:, INTENSITY_COLUMNS][:, ::-1]
  return paper


@pytest.fixture(scope='module')
def au_faces_dir(tmp_path_factory):
  from tfds_builders import au_faces

  data_dir = str(tmp_path_factory.mktemp('tfds'))
  tiny = next(c for c in au_faces.Builder.BUILDER_CONFIGS if c.name == 'tiny')
  # No AU occurrences (au_faces' dynamics.py): the intensities follow K's
  # tone alone (with them, 3 clips per class recover K's rows to rho ~0.7).
  config = dataclasses.replace(
    tiny,
    name='known',
    knowledge=tuple(map(tuple, _generating_matrix())),
    au_rates=(0.0,) * 18,
  )
  au_faces.Builder(config=config, data_dir=data_dir).download_and_prepare()
  return data_dir


def test_cli_on_au_faces_recovers_the_generating_matrix(au_faces_dir, tmp_path):
  output = str(tmp_path / 'k.json')
  extract.main(
    ['--dataset', 'au_faces/known', '--data_dir', au_faces_dir]
    + ['--output', output]
  )
  with open(output) as f:
    data = json.load(f)
  assert data['class_names'] == list(facs.EXPRESSIONS)
  assert data['au_names'] == list(facs.AU_PRESENCE_NAMES)
  assert data['theta'] is None and data['fusion_offset'] is None
  assert data['datasets'][0]['name'] == 'au_faces/known'
  assert data['datasets'][0]['num_clips'] == 42
  extracted = knowledge.load_knowledge(output)
  generating = _generating_matrix()
  for row in range(7):
    rho = scipy.stats.spearmanr(
      extracted[row, INTENSITY_COLUMNS], generating[row, INTENSITY_COLUMNS]
    ).statistic
    # The tone peaks at 0.45 (x5 = 2.25 intensity units, noise std 0.2).
    assert rho >= 0.75, (facs.EXPRESSIONS[row], rho)
  with Image.open(tmp_path / 'k.png') as image:
    assert image.size[0] > image.size[1] > 200  # wide: 7 x 18 cells


def test_cli_with_predictions_and_two_datasets(au_faces_dir, tmp_path, capsys):
  names, clips = extract.read_dataset('au_faces/known', 'train', au_faces_dir)
  clips = list(clips)
  # Probability 1 for the label in every frame: theta filters nothing.
  certain = {
    c['clip_id']: np.eye(7)[np.full(len(c['face_success']), c['label'])]
    for c in clips
  }
  np.savez(tmp_path / 'p.npz', **certain)
  single, _ = extraction.extract_dataset(clips, names)
  output = str(tmp_path / 'two.json')
  extract.main(
    ['--dataset', 'au_faces/known', '--dataset', 'au_faces/known']
    + ['--split', 'train', '--data_dir', au_faces_dir, '--output', output]
    + ['--predictions', str(tmp_path / 'p.npz'), '--predictions', 'none']
    + ['--theta', '0.9', '--fusion_offset', '1.2']
  )
  with open(output) as f:
    data = json.load(f)
  assert data['theta'] == 0.9 and data['fusion_offset'] == 1.2
  np.testing.assert_allclose(
    data['knowledge'], _sigmoid(2 * single - 1.2), atol=1e-12
  )
  # A threshold no frame passes: a clear error.
  with pytest.raises(SystemExit) as exit_info:
    extract.main(
      ['--dataset', 'au_faces/known', '--data_dir', au_faces_dir]
      + ['--predictions', str(tmp_path / 'p.npz'), '--theta', '1.0']
      + ['--output', output]
    )
  assert exit_info.value.code == 2
  assert re.match(r'error: .*au_faces/known.*theta', capsys.readouterr().err)


@pytest.mark.parametrize(
  'dataset, message',
  [
    ('au_facez', 'error: --dataset au_facez: unknown; the datasets are '),
    (
      'au_faces/tyni',
      'error: --dataset au_faces/tyni: au_faces has no such config; its '
      'configs are .*tiny',
    ),
    (
      'au_faces/tiny',
      'error: --dataset au_faces/tiny: not prepared in {d}; prepare it '
      'with: {python} -m tfds_builders.prepare au_faces/tiny --data_dir {d}',
    ),
  ],
)
def test_cli_on_a_dataset_that_is_not_there(tmp_path, capsys, dataset, message):
  with pytest.raises(SystemExit) as exit_info:
    extract.main(
      ['--dataset', dataset, '--data_dir', str(tmp_path)]
      + ['--output', str(tmp_path / 'k.json')]
    )
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1, err
  expected = message.format(d=tmp_path, python=re.escape(sys.executable))
  assert re.match(expected, err), err


def test_cli_help(capsys):
  with pytest.raises(SystemExit) as exit_info:
    extract.main(['--help'])
  assert exit_info.value.code == 0
  assert '--fusion_offset' in capsys.readouterr().out
