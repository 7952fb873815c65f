"""OpenFace CSV parsing, the per-video AU label (eq. 4) and run_openface."""

import pathlib
import shutil

import dummy_clips
from fake_openface import HEADER
import numpy as np
import pytest

import tfds_builders
from tfds_builders import openface
from tfds_builders import run_openface
from tfds_builders.errors import DatasetLayoutError

PACKAGE = pathlib.Path(tfds_builders.__file__).parent


def write_csv(path, header, rows, sep=', '):
  lines = [sep.join(header)] + [sep.join(str(v) for v in r) for r in rows]
  path.write_text('\n'.join(lines) + '\n')
  return path


def row(frame, success, r_value, c_values, confidence=0.9):
  return [frame, 0, 0.0, confidence, success] + [r_value] * 17 + list(c_values)


def test_header_names_exact_openface_order():
  # The 40-column `-aus` header of OpenFace 2.2.0, written out by hand.
  header = (
    'frame, face_id, timestamp, confidence, success, AU01_r, AU02_r, AU04_r, '
    'AU05_r, AU06_r, AU07_r, AU09_r, AU10_r, AU12_r, AU14_r, AU15_r, AU17_r, '
    'AU20_r, AU23_r, AU25_r, AU26_r, AU45_r, AU01_c, AU02_c, AU04_c, AU05_c, '
    'AU06_c, AU07_c, AU09_c, AU10_c, AU12_c, AU14_c, AU15_c, AU17_c, AU20_c, '
    'AU23_c, AU25_c, AU26_c, AU28_c, AU45_c'
  )
  assert header.split(', ') == HEADER


@pytest.mark.parametrize('sep', [', ', ','])
def test_read_csv_orders_rows_by_frame_and_parses_float_flags(tmp_path, sep):
  c_on = ['1.00'] * 18
  c_off = ['0.0'] * 18
  rows = [
    row(2, 0, 0.0, c_off, confidence=0.02),
    row(1, 1, 1.5, c_on, confidence=0.97),
    row(3, 1, 4.25, c_off, confidence=0.88),
  ]
  path = write_csv(tmp_path / 'a.csv', HEADER, rows, sep)
  track = openface.read_csv(path)
  assert track.num_frames == 3
  np.testing.assert_array_equal(track.face_success, [True, False, True])
  np.testing.assert_allclose(track.face_confidence, [0.97, 0.02, 0.88])
  np.testing.assert_allclose(track.au_intensity[:, 5], [1.5, 0.0, 4.25])
  assert track.au_intensity.shape == (3, 17)
  np.testing.assert_array_equal(track.au_presence.sum(axis=1), [18, 0, 0])


def test_read_csv_ignores_extra_columns_of_full_output(tmp_path):
  header = HEADER[:5] + ['gaze_0_x', 'pose_Tx'] + HEADER[5:]
  values = row(1, 1, 2.0, [1] * 18)
  path = write_csv(
    tmp_path / 'a.csv', header, [values[:5] + [0.1, 7] + values[5:]]
  )
  track = openface.read_csv(path)
  np.testing.assert_allclose(track.au_intensity, np.full((1, 17), 2.0))


@pytest.mark.parametrize(
  ('header', 'rows', 'message'),
  [
    (HEADER[:-1], [row(1, 1, 0, [0] * 18)[:-1]], 'AU45_c'),
    (
      ['AU1_r' if h == 'AU01_r' else h for h in HEADER],
      [row(1, 1, 0, [0] * 18)],
      'AU01_r',
    ),
    (HEADER, [row(1, 1, 0, [0] * 17 + ['x'])], 'line 2'),
    (HEADER, [row(1, 1, 0, [0] * 18), row(3, 1, 0, [0] * 18)], 'column frame'),
    (HEADER, [], 'no data rows'),
  ],
)
def test_read_csv_rejects_malformed_files(tmp_path, header, rows, message):
  path = write_csv(tmp_path / 'bad.csv', header, rows)
  with pytest.raises(DatasetLayoutError, match=message) as e:
    openface.read_csv(path)
  assert str(path) in str(e.value)


def test_video_au_label_hand_computed():
  # 5 frames, frame 3 untracked (its flags must not count): 4 tracked frames.
  presence = np.zeros((5, 18), np.uint8)
  presence[[0, 1], 0] = 1  # AU01: 2 of 4 tracked -> exactly half -> 1
  presence[[3], 1] = 1  # AU02: 1 of 4 -> 0
  presence[[2, 4], 2] = 1  # AU04: frame 3 untracked, so 1 of 4 -> 0
  presence[[0, 1, 3, 4], 16] = 1  # AU28: 4 of 4 -> 1
  presence[[0, 2, 3], 17] = 1  # AU45: 2 of 4 -> 1
  success = np.array([1, 1, 0, 1, 1], bool)
  label, valid = openface.video_au_label(presence, success)
  expected = [1, 0, 0] + [0] * 13 + [1, 1]
  assert valid and label.tolist() == expected


def test_video_au_label_invalid_without_tracked_frames():
  label, valid = openface.video_au_label(np.ones((3, 18)), np.zeros(3, bool))
  assert not valid and label.tolist() == [0] * 18


def frames_only(tmp_path, dataset='ferv39k'):
  """A copy of a dataset's dummy data without its OpenFace CSVs."""
  source = PACKAGE / dataset / 'dummy_data'
  manual = tmp_path / 'manual'
  for path in source.rglob('*'):
    rel = path.relative_to(source)
    if path.is_file() and rel.parts[0] != 'openface':
      (manual / rel).parent.mkdir(parents=True, exist_ok=True)
      (manual / rel).write_bytes(path.read_bytes())
  return manual


def test_run_openface_mirrors_tree_and_resumes(tmp_path, fake_openface):
  manual = frames_only(tmp_path)
  crop = manual / '2_ClipsforFaceCrop-002' / '2_ClipsforFaceCrop'
  bad = crop / 'School' / 'Fear' / '0003'
  failures = run_openface.run(
    'ferv39k', manual, workers=2, binary='FeatureExtraction'
  )
  assert list(failures) == [bad]
  clips = sorted(p.parent for p in crop.rglob('01.jpg'))
  for clip in clips:
    csv = manual / 'openface' / clip.relative_to(manual).with_suffix('.csv')
    assert csv.exists() == (clip != bad)
    if clip != bad:
      assert openface.read_csv(csv).num_frames == len(list(clip.iterdir()))
  # Nothing else is left in the mirrored folders (no temp dirs, no details).
  leftovers = [
    p
    for p in (manual / 'openface').rglob('*')
    if p.is_file() and p.suffix != '.csv'
  ]
  assert leftovers == [] and not list((manual / 'openface').rglob('.*'))
  assert len(fake_openface.read_text().splitlines()) == 5

  # A truncated CSV (as from an old killed run) is redone; complete ones and
  # only those are skipped; the failing clip is retried.
  truncated = (
    manual / 'openface' / crop.relative_to(manual) / 'Action/Sad/0002.csv'
  )
  truncated.write_text(truncated.read_text().splitlines()[0] + '\n')
  fake_openface.write_text('')
  run_openface.run('ferv39k', manual, workers=1, binary='FeatureExtraction')
  assert sorted(fake_openface.read_text().split()) == sorted(
    [str(bad), str(crop / 'Action/Sad/0002')]
  )
  assert openface.read_csv(truncated).num_frames == 4


def test_builder_reads_run_openface_output(tmp_path, fake_openface):
  del fake_openface
  manual = frames_only(tmp_path)
  run_openface.run('ferv39k', manual, workers=2, binary='FeatureExtraction')
  _, splits = dummy_clips.build(
    'ferv39k', manual, tmp_path / 'data', allow_missing_au=True
  )
  valid = {
    ex['clip_id'].decode(): (bool(ex['au_valid']), ex['au_label'].tolist())
    for examples in splits.values()
    for ex in examples
  }
  # The fake marks every AU present; it failed on School/Fear/0003.
  assert valid == {
    'Action/Happy/0001': (True, [1] * 18),
    'Crime/Happy/0001': (True, [1] * 18),
    'School/Angry/0010': (True, [1] * 18),
    'Action/Sad/0002': (True, [1] * 18),
    'School/Fear/0003': (False, [0] * 18),
  }


def test_run_openface_without_binary_explains_install(tmp_path, monkeypatch):
  monkeypatch.setenv('PATH', str(tmp_path))
  with pytest.raises(SystemExit) as e:
    run_openface.main(
      [
        '--dataset',
        'dfew',
        '--manual_dir',
        str(tmp_path),
        '--binary',
        'NoSuchFE',
      ]
    )
  assert 'OpenFace 2.2.0' in str(e.value) and 'NoSuchFE' in str(e.value)


def test_run_openface_analyses_one_copy_of_each_ravdess_recording(
  tmp_path, fake_openface, capsys
):
  manual = frames_only(tmp_path, 'ravdess')
  # The face crops of a video-only copy (02-*) beside its audio-video one.
  actor = manual / 'frames' / 'Video_Speech_Actor_01' / 'Actor_01'
  twin = actor / '02-01-01-01-01-01-01'
  shutil.copytree(actor / '01-01-01-01-01-01-01', twin)
  assert not run_openface.run(
    'ravdess', manual, workers=2, binary='FeatureExtraction'
  )
  assert (
    'skipped 1 video-only frame folders (02-*): the ravdess builder reads '
    'the audio-video copies (01-*) of the same recordings'
  ) in capsys.readouterr().out
  analysed = fake_openface.read_text().split()
  assert len(analysed) == 10 and str(twin) not in analysed


@pytest.mark.parametrize(
  ('name', 'folders'),
  [
    # Every video's face-crop folder; the video-only copy has none.
    ('ravdess/7_classes', 10),
    # cropped_aligned (3 subjects) and the face crops of video7.
    ('affwild2/window_16', 4),
  ],
)
def test_run_openface_on_video_datasets(tmp_path, fake_openface, name, folders):
  dataset = name.split('/')[0]
  manual = frames_only(tmp_path, dataset)
  assert not run_openface.run(
    dataset, manual, workers=2, binary='FeatureExtraction'
  )
  assert len(fake_openface.read_text().splitlines()) == folders
  _, splits = dummy_clips.build(name, manual, tmp_path / 'data')
  examples = [ex for split in splits.values() for ex in split]
  assert examples
  # The fake tracks every frame and marks every AU present.
  for ex in examples:
    assert ex['au_valid'] and ex['au_label'].tolist() == [1] * 18
