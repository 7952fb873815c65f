"""Frame ordering, root discovery across layout variants, fold arithmetic."""

import pytest

from tfds_builders import folds
from tfds_builders import layout
from tfds_builders.errors import DatasetLayoutError


def touch(path):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_bytes(b'')
  return path


def test_sorted_frames_is_numeric_not_lexicographic(tmp_path):
  for n in range(1, 17):
    touch(tmp_path / 'clip' / f'{n}.jpg')
  touch(tmp_path / 'clip' / 'notes.txt')
  names = [p.name for p in layout.sorted_frames(tmp_path / 'clip')]
  assert names == [f'{n}.jpg' for n in range(1, 17)]


def test_sorted_frames_uses_last_number_in_name(tmp_path):
  for n in (10, 9, 100):
    touch(tmp_path / 'c' / f'00001_{n:05d}.jpg')
  names = [p.name for p in layout.sorted_frames(tmp_path / 'c')]
  assert names == ['00001_00009.jpg', '00001_00010.jpg', '00001_00100.jpg']


def test_sorted_frames_rejects_repeated_numbers_and_empty(tmp_path):
  touch(tmp_path / 'c' / '1.jpg')
  touch(tmp_path / 'c' / '01.jpg')
  with pytest.raises(DatasetLayoutError, match='same number 1'):
    layout.sorted_frames(tmp_path / 'c')
  (tmp_path / 'e').mkdir()
  with pytest.raises(DatasetLayoutError, match='no .jpg'):
    layout.sorted_frames(tmp_path / 'e')
  with pytest.raises(DatasetLayoutError, match='frames folder is missing'):
    layout.sorted_frames(tmp_path / 'absent')


@pytest.mark.parametrize(
  'rel',
  [
    'Clip/clip_224x224',
    'Clip/clip_224x224/clip_224x224',
    'DFEW-001/DFEW/Clip/clip_224x224',
  ],
)
def test_find_named_dir_undoes_doubling_and_ignores_openface(tmp_path, rel):
  touch(tmp_path / rel / '00001' / '00001_00001.jpg')
  touch(tmp_path / 'Clip' / 'clip_224x224_16f' / '00001' / '1.jpg')
  # The mirrored OpenFace tree holds a shallower `clip_224x224` decoy.
  (tmp_path / 'openface' / 'clip_224x224').mkdir(parents=True)
  found = layout.find_named_dir(tmp_path, 'clip_224x224', 'DFEW clips')
  assert found == tmp_path / rel


def test_find_named_dir_zip_named_parent(tmp_path):
  touch(
    tmp_path / '2_ClipsforFaceCrop-002/2_ClipsforFaceCrop/A/Happy/0001/01.jpg'
  )
  found = layout.find_named_dir(tmp_path, r'2_Clips?forFaceCrop(-\d+)?', 'x')
  assert found == tmp_path / '2_ClipsforFaceCrop-002/2_ClipsforFaceCrop'


def test_find_dir_errors_name_what_was_sought(tmp_path):
  (tmp_path / 'a' / 'frames').mkdir(parents=True)
  (tmp_path / 'b' / 'frames').mkdir(parents=True)
  with pytest.raises(DatasetLayoutError, match='several folders for MAFW'):
    layout.find_named_dir(tmp_path, 'frames', 'MAFW frames')
  with pytest.raises(DatasetLayoutError, match='no folder for DFEW'):
    layout.find_named_dir(tmp_path, 'clip_224x224', 'DFEW clips')


def test_openface_csv_path_mirrors_clip_folder(tmp_path):
  clip = tmp_path / 'Clip' / 'clip_224x224' / '00001'
  assert layout.openface_csv_path(tmp_path, clip) == (
    tmp_path / 'openface' / 'Clip' / 'clip_224x224' / '00001.csv'
  )


def test_face_crop_dir_and_its_openface_csv(tmp_path):
  video = tmp_path / 'Video_Song_Actor_02' / 'Actor_02' / '01-02-03.mp4'
  frames = layout.face_crop_dir(tmp_path, video)
  assert frames == tmp_path / 'frames/Video_Song_Actor_02/Actor_02/01-02-03'
  assert layout.openface_csv_path(tmp_path, frames) == (
    tmp_path / 'openface/frames/Video_Song_Actor_02/Actor_02/01-02-03.csv'
  )


def test_find_videos_skips_frame_trees(tmp_path):
  for rel in (
    'a/x.mp4',
    'b/y.AVI',
    'b/y.wav',
    'frames/a/x/z.mp4',
    'openface/z.mp4',
    'c/cropped_aligned/z.mp4',
  ):
    touch(tmp_path / rel)
  found = layout.find_videos(tmp_path, ('.mp4', '.avi'))
  assert found == [tmp_path / 'a/x.mp4', tmp_path / 'b/y.AVI']


def test_find_dir_prunes_named_folders(tmp_path):
  (tmp_path / 'cropped_aligned' / 'v' / 'Train_Set').mkdir(parents=True)
  with pytest.raises(DatasetLayoutError, match='no folder for labels'):
    layout.find_dir(
      tmp_path,
      lambda p: p.name == 'Train_Set',
      'labels',
      prune=('cropped_aligned',),
    )


@pytest.mark.parametrize(
  ('fold', 'train', 'test'),
  [
    (1, 'set_2+set_3+set_4+set_5', 'set_1'),
    (3, 'set_1+set_2+set_4+set_5', 'set_3'),
    (5, 'set_1+set_2+set_3+set_4', 'set_5'),
  ],
)
def test_fold_splits(fold, train, test):
  assert folds.fold_splits(fold) == (train, test)


def test_fold_splits_rejects_out_of_range():
  with pytest.raises(ValueError, match='1..5'):
    folds.fold_splits(6)


TESTS = [('t1', {'a': 0}), ('t2', {'b': 1, 'c': 2}), ('t3', {'d': 0})]


def test_check_folds_accepts_consistent_files():
  trains = [
    ('r1', {'b': 1, 'c': 2, 'd': 0}),
    ('r2', {'a': 0, 'd': 0}),
    ('r3', {'a': 0, 'b': 1, 'c': 2}),
  ]
  folds.check_folds(TESTS, trains)


@pytest.mark.parametrize(
  ('trains', 'message'),
  [
    (
      [
        ('r1', {'b': 1, 'c': 2}),
        ('r2', {'a': 0, 'd': 0}),
        ('r3', {'a': 0, 'b': 1, 'c': 2}),
      ],
      r"r1: .*1 missing \['d'\]",
    ),
    (
      [
        ('r1', {'b': 1, 'c': 2, 'd': 0}),
        ('r2', {'a': 0, 'd': 0, 'x': 1}),
        ('r3', {'a': 0, 'b': 1, 'c': 2}),
      ],
      r"r2: .*1 extra clip\(s\) \['x'\]",
    ),
    (
      [
        ('r1', {'b': 1, 'c': 2, 'd': 0}),
        ('r2', {'a': 0, 'd': 0}),
        ('r3', {'a': 0, 'b': 1, 'c': 5}),
      ],
      r"r3: .*1 with another label \['c'\]",
    ),
  ],
)
def test_check_folds_rejects_inconsistent_train_lists(trains, message):
  with pytest.raises(DatasetLayoutError, match=message):
    folds.check_folds(TESTS, trains)


def test_check_folds_rejects_overlapping_test_sets():
  tests = [('t1', {'a': 0}), ('t2', {'a': 0})]
  with pytest.raises(DatasetLayoutError, match='t2: clip a is also in .* t1'):
    folds.check_folds(tests, [('r1', {'a': 0}), ('r2', {'a': 0})])
