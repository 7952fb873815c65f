"""Broken manual downloads fail clearly and leave no prepared dataset behind.

Each test copies a builder's dummy data, breaks one thing, and checks the
error names the file and the problem, and that nothing was prepared.
"""

import pathlib
import re
import shutil

import dummy_clips
import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_builders
from tfds_builders.errors import DatasetLayoutError

PACKAGE = pathlib.Path(tfds_builders.__file__).parent
FERV_CROP = '2_ClipsforFaceCrop-002/2_ClipsforFaceCrop'
FERV_CSV = f'openface/{FERV_CROP}'


def copy_dummy(dataset, tmp_path):
  manual = tmp_path / 'manual'
  shutil.copytree(PACKAGE / dataset / 'dummy_data', manual)
  return manual


def assert_fails_cleanly(name, manual, tmp_path, message, **builder_kwargs):
  """Building raises `message` and leaves no dataset (complete or partial)."""
  data_dir = tmp_path / 'data'
  builder = tfds.builder(name, data_dir=data_dir, **builder_kwargs)
  with pytest.raises(DatasetLayoutError, match=message) as error:
    builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=manual)
    )
  assert '\n' not in str(error.value)
  assert not tfds.builder(name, data_dir=data_dir).is_prepared()
  dataset_dir = data_dir / name.split('/')[0]
  leftovers = [p for p in dataset_dir.rglob('*') if p.is_dir()]
  assert not [p for p in leftovers if p.name.endswith('1.0.0')], leftovers


def edit_lines(path, edit):
  path.write_text('\n'.join(edit(path.read_text().splitlines())) + '\n')


def test_missing_frames_folder(tmp_path):
  manual = copy_dummy('ferv39k', tmp_path)
  shutil.rmtree(manual / FERV_CROP / 'Action/Sad/0002')
  assert_fails_cleanly(
    'ferv39k', manual, tmp_path, r'Action/Sad/0002: frames folder is missing'
  )


@pytest.mark.parametrize('damage', ['truncate', 'garbage'])
def test_corrupt_jpeg(tmp_path, damage):
  manual = copy_dummy('ferv39k', tmp_path)
  frame = manual / FERV_CROP / 'School/Fear/0003/02.jpg'
  data = frame.read_bytes()
  frame.write_bytes(data[: len(data) // 2] if damage == 'truncate' else b'xx')
  assert_fails_cleanly(
    'ferv39k',
    manual,
    tmp_path,
    r'School/Fear/0003/02\.jpg: frame does not decode',
  )


def test_corrupt_jpegs_read_in_workers_fail_at_the_first(tmp_path):
  """The error of the first broken clip (clip id order), as in one process,
  whichever worker fails first; nothing is prepared."""
  manual = copy_dummy('ferv39k', tmp_path)
  # Both in the train split (written first): a pool is started once.
  (manual / FERV_CROP / 'Crime/Happy/0001/03.jpg').write_bytes(b'xx')
  (manual / FERV_CROP / 'School/Angry/0010/02.jpg').write_bytes(b'xx')
  assert_fails_cleanly(
    'ferv39k',
    manual,
    tmp_path,
    '^'
    + re.escape(f'{manual / FERV_CROP}/Crime/Happy/0001/03.jpg: frame ')
    + 'does not decode',
    workers=2,
  )


def test_missing_openface_csv(tmp_path):
  manual = copy_dummy('ferv39k', tmp_path)
  (manual / FERV_CSV / 'Crime/Happy/0001.csv').unlink()
  assert_fails_cleanly(
    'ferv39k',
    manual,
    tmp_path,
    r'Crime/Happy/0001\.csv: OpenFace CSV .* missing',
  )


def test_missing_openface_csv_allowed(tmp_path, capsys):
  manual = copy_dummy('ferv39k', tmp_path)
  (manual / FERV_CSV / 'Crime/Happy/0001.csv').unlink()
  _, splits = dummy_clips.build(
    'ferv39k', manual, tmp_path / 'data', allow_missing_au=True
  )
  assert '1 of 3 clips have no OpenFace CSV' in capsys.readouterr().out
  by_id = {ex['clip_id'].decode(): ex for ex in splits['train']}
  missing = by_id.pop('Crime/Happy/0001')
  assert not missing['au_valid'] and missing['num_frames'] == 3
  assert missing['au_intensity'].shape == (3, 17) and missing[
    'au_presence'
  ].shape == (3, 18)
  assert not missing['au_intensity'].any() and not missing['au_presence'].any()
  assert not missing['face_success'].any() and not missing['au_label'].any()
  # Its frames are still there, in order.
  np.testing.assert_allclose(
    missing['video'].reshape(3, -1).mean(axis=1), [24, 32, 40], atol=2
  )
  assert all(ex['au_valid'] for ex in by_id.values())


@pytest.mark.parametrize(
  ('edit', 'message'),
  [
    (lambda h: h.replace(', AU45_c', ''), 'lacks column.*AU45_c'),
    (lambda h: h.replace('AU12_r', 'AU12_intensity'), 'lacks column.*AU12_r'),
  ],
)
def test_csv_with_missing_or_renamed_column(tmp_path, edit, message):
  manual = copy_dummy('ferv39k', tmp_path)
  csv = manual / FERV_CSV / 'School/Angry/0010.csv'
  edit_lines(csv, lambda lines: [edit(lines[0])] + lines[1:])
  assert_fails_cleanly('ferv39k', manual, tmp_path, rf'0010\.csv: .*{message}')


def test_csv_frame_count_mismatch(tmp_path):
  manual = copy_dummy('ferv39k', tmp_path)
  csv = manual / FERV_CSV / 'Action/Sad/0002.csv'
  edit_lines(csv, lambda lines: lines[:-1])  # 4 frames, 3 rows
  assert_fails_cleanly(
    'ferv39k', manual, tmp_path, r'0002\.csv: .* 3 frame rows but .* 4 frames'
  )


@pytest.mark.parametrize(
  ('dataset', 'name', 'file', 'edit', 'message'),
  [
    (
      'ferv39k',
      'ferv39k',
      '4_setups/All_scenes/test_All.csv',
      lambda lines: lines + ['Action/Joy/0005 Joy'],
      r"test_All\.csv: line 3: unknown label 'Joy'",
    ),
    (
      'dfew',
      'dfew/clip_224x224',
      'EmoLabel_DataSplit/test(single-labeled)/set_3.csv',
      lambda lines: [lines[0], '5,8'],
      r'set_3\.csv: line 2: unknown label 8',
    ),
    (
      'mafw',
      'mafw/11_classes',
      'Train & Test Set/single/no_caption/set_2/test.txt',
      lambda lines: ['00031.mp4 joy'],
      r"set_2/test\.txt: line 1: unknown label 'joy'",
    ),
  ],
)
def test_unknown_label(tmp_path, dataset, name, file, edit, message):
  manual = copy_dummy(dataset, tmp_path)
  edit_lines(manual / file, edit)
  assert_fails_cleanly(name, manual, tmp_path, message)


def test_duplicate_clip_id_in_one_list(tmp_path):
  manual = copy_dummy('ferv39k', tmp_path)
  edit_lines(
    manual / '4_setups/All_scenes/train_All.csv', lambda ls: ls + ls[:1]
  )
  assert_fails_cleanly(
    'ferv39k',
    manual,
    tmp_path,
    r'train_All\.csv: clip Action/Happy/0001 is listed twice',
  )


def test_duplicate_clip_id_across_ferv39k_splits(tmp_path):
  manual = copy_dummy('ferv39k', tmp_path)
  edit_lines(
    manual / '4_setups/All_scenes/test_All.csv',
    lambda ls: ls + ['Action/Happy/0001 Happy'],
  )
  assert_fails_cleanly(
    'ferv39k',
    manual,
    tmp_path,
    r'1 clip\(s\) are in both train_All.csv and test_All.csv',
  )


def test_dfew_clip_in_two_test_sets(tmp_path):
  manual = copy_dummy('dfew', tmp_path)
  edit_lines(
    manual / 'EmoLabel_DataSplit/test(single-labeled)/set_2.csv',
    lambda lines: lines + ['1,1'],
  )
  assert_fails_cleanly(
    'dfew/clip_224x224', manual, tmp_path, r'set_2\.csv: clip 00001 is also in'
  )


def test_dfew_train_list_inconsistent(tmp_path):
  manual = copy_dummy('dfew', tmp_path)
  # Fold 4 trains on sets 1, 2, 3, 5; drop clip 10 (set 5) from its list.
  edit_lines(
    manual / 'EmoLabel_DataSplit/train(single_labeled)/set_4.csv',
    lambda lines: [line for line in lines if line != '10,5'],
  )
  assert_fails_cleanly(
    'dfew/clip_224x224_16f',
    manual,
    tmp_path,
    r"set_4\.csv: .*1 missing \['00010'\]",
  )


def test_mafw_train_list_inconsistent_in_renamed_split_dir(tmp_path):
  manual = copy_dummy('mafw', tmp_path)
  (manual / 'Train & Test Set').rename(manual / 'split')
  edit_lines(
    manual / 'split/single/no_caption/set_5/train.txt',
    lambda lines: lines + ['00077.mp4 fear'],
  )
  assert_fails_cleanly(
    'mafw/7_classes',
    manual,
    tmp_path,
    r"set_5/train\.txt: .*1 extra clip\(s\) \['00077'\]",
  )


RAVDESS_SPEECH = 'Video_Speech_Actor_01/Actor_01'
RAVDESS_SONG = 'Actor_02/02-02-03-01-01-01-02'


@pytest.mark.parametrize(
  ('old', 'new', 'message'),
  [
    (
      '01-01-08-02-02-02-01',
      '01-01-08-02-02-01',
      r'01-01-08-02-02-01\.mp4: RAVDESS file name is not MM-VV-EE-II-SS-RR-AA',
    ),
    (
      '01-01-08-02-02-02-01',
      '01-01-09-02-02-02-01',
      r'01-01-09-02-02-02-01\.mp4: unknown emotion code 09 \(expected 01\.\.08\)',
    ),
    (
      '01-01-07-01-01-01-01',
      '04-01-07-01-01-01-01',
      r'04-01-07-01-01-01-01\.mp4: unknown modality code 04',
    ),
    (
      '01-01-07-01-01-01-01',
      '01-01-07-01-01-01-03',
      r'01-01-07-01-01-01-03\.mp4: actor code 03 but the file is in Actor_01',
    ),
  ],
)
def test_ravdess_bad_file_name(tmp_path, old, new, message):
  manual = copy_dummy('ravdess', tmp_path)
  folder = manual / RAVDESS_SPEECH
  (folder / f'{old}.mp4').rename(folder / f'{new}.mp4')
  assert_fails_cleanly('ravdess/7_classes', manual, tmp_path, message)


def test_ravdess_missing_face_crops_names_the_video(tmp_path):
  manual = copy_dummy('ravdess', tmp_path)
  shutil.rmtree(manual / 'frames' / RAVDESS_SONG)
  assert_fails_cleanly(
    'ravdess/7_classes',
    manual,
    tmp_path,
    rf'{RAVDESS_SONG}\.mp4: no face-crop frames folder .*; run '
    r'python -m tfds_builders\.face_crop --manual_dir',
  )


def test_ravdess_frames_and_openface_rows_differ(tmp_path):
  manual = copy_dummy('ravdess', tmp_path)
  (manual / 'frames' / RAVDESS_SONG / '00003.jpg').unlink()
  assert_fails_cleanly(
    'ravdess/7_classes',
    manual,
    tmp_path,
    r'02-02-03-01-01-01-02\.csv: OpenFace CSV has 3 frame rows but .* 2 '
    'frames',
  )


AFFWILD2_TRAIN = 'annotations/EXPR_Set/Train_Set'


@pytest.mark.parametrize(
  ('file', 'edit', 'message'),
  [
    (
      'video7.txt',
      lambda lines: lines[:-1],
      r'video7\.txt: 32 label lines, but .*video7 has 33 frames',
    ),
    (
      '10-60-1280x720_left.txt',
      lambda lines: lines[:-2],
      r'10-60-1280x720_left\.txt: 14 label lines, but .* has frame 16',
    ),
    (
      'video7.txt',
      lambda lines: lines[:4] + ['9'] + lines[5:],
      r"video7\.txt: line 5 is not an expression code -1\.\.7: '9'",
    ),
    (
      'video7.txt',
      lambda lines: lines[1:],
      r'video7\.txt: first line must be the header Neutral,Anger',
    ),
  ],
)
def test_affwild2_bad_label_file(tmp_path, file, edit, message):
  manual = copy_dummy('affwild2', tmp_path)
  edit_lines(manual / AFFWILD2_TRAIN / file, edit)
  assert_fails_cleanly('affwild2/window_16', manual, tmp_path, message)


def test_affwild2_missing_face_crops_names_the_video(tmp_path):
  manual = copy_dummy('affwild2', tmp_path)
  shutil.rmtree(manual / 'frames/videos/batch2/video7')
  assert_fails_cleanly(
    'affwild2/window_16',
    manual,
    tmp_path,
    r'videos/batch2/video7\.avi: no face-crop frames folder .*; run '
    r'python -m tfds_builders\.face_crop --manual_dir',
  )


def test_affwild2_two_subjects_need_cropped_aligned(tmp_path):
  manual = copy_dummy('affwild2', tmp_path)
  shutil.rmtree(manual / 'cropped_aligned/10-60-1280x720_right')
  assert_fails_cleanly(
    'affwild2/window_16',
    manual,
    tmp_path,
    r'10-60-1280x720_right\.txt: no cropped_aligned/10-60-1280x720_right/ '
    'frames; a video with two subjects',
  )


def test_affwild2_label_file_without_video(tmp_path):
  manual = copy_dummy('affwild2', tmp_path)
  (manual / AFFWILD2_TRAIN / 'ghost.txt').write_text('Neutral\n0\n')
  assert_fails_cleanly(
    'affwild2/window_16',
    manual,
    tmp_path,
    r'ghost\.txt: no cropped_aligned/ghost/ frames and no video '
    r'ghost\.mp4/\.avi',
  )
