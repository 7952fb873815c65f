"""video_folder: a folder of one's own face videos, unlabelled or labelled.

The folder is VoxCeleb2-like (`id*/<video>/<clip>.mp4`): tiny videos, the
face-crop frames of three of them (the `dummy_clips.py` encoding), OpenFace
CSVs for two of those, and a fourth video the face crop wrote nothing for
(but the temporary folder of a killed run).
"""

import shutil

import dummy_clips
import face_videos
import make_dummy_data
import numpy as np
import pytest
import tensorflow_datasets as tfds
from test_bad_input import assert_fails_cleanly

from tfds_builders import prepare
from tfds_builders import run_openface
from tfds_builders.errors import DatasetLayoutError

Clip = make_dummy_data.Clip
# Clip id -> (frames, clip number of the AU encoding, has an OpenFace CSV).
CLIPS = {
  'id00001/vidA/00001': (3, 1, True),
  'id00001/vidA/00002': (4, 2, True),
  'id00002/vidB/00001': (5, 3, False),
}
VIDEOS = {
  'id00001/vidA/00001.mp4': 3,
  'id00001/vidA/00002.mp4': 4,
  'id00002/vidB/00001.mkv': 5,
  'id00003/vidC/00001.mp4': 2,  # no face-crop frames
}
LABELS = """\
path,label,split
id00001/vidA/00001.mp4,sad,train
id00001/vidA/00002.mp4, happy ,Train
id00002/vidB/00001.mkv,sad,test
"""


def write_folder(root, labels=LABELS):
  clips = [
    Clip(f'frames/{c}', number, make_dummy_data.frame_names('{n:05d}.jpg', n))
    for c, (n, number, _) in CLIPS.items()
  ]
  texts = {'labels.csv': labels} if labels else {}
  make_dummy_data.write_tree(
    root, make_dummy_data.Tree(clips, texts, dict(VIDEOS))
  )
  for c, (_, _, has_csv) in CLIPS.items():
    if not has_csv:
      (root / 'openface' / 'frames' / f'{c}.csv').unlink()
  # What a killed face crop leaves behind: not a clip.
  leftover = root / 'frames' / 'id00003' / 'vidC' / '.00001.tmp'
  leftover.mkdir(parents=True)
  make_dummy_data.write_frame(leftover / '00001.jpg', 16)
  return root


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
  return write_folder(tmp_path_factory.mktemp('videos'))


def by_clip(examples):
  return {ex['clip_id'].decode(): ex for ex in examples}


def check_clip(ex, clip):
  length, number, has_csv = CLIPS[clip]
  if has_csv:
    dummy_clips.check_example(ex, length, number)
    return
  # No OpenFace CSV: the frames, and zero AUs that are not valid.
  pixel = np.asarray(ex['video']).reshape(length, -1).mean(axis=1)
  np.testing.assert_allclose(pixel, 8 * np.arange(1, length + 1) + 16, atol=2)
  assert not ex['au_valid'] and not ex['au_label'].any()
  assert not ex['face_success'].any() and not ex['au_presence'].any()


def test_labelled(folder, tmp_path, caplog):
  builder, splits = dummy_clips.build('video_folder/labelled', folder, tmp_path)
  # Reported per split: the test split's only clip has no OpenFace CSV.
  assert 'video_folder: 1 of 1 clips have no OpenFace CSV' in caplog.text
  # Classes in alphabetical order: happy 0, sad 1 (by hand from LABELS).
  labels = {
    split: {c: int(ex['label']) for c, ex in by_clip(examples).items()}
    for split, examples in splits.items()
  }
  assert labels == {
    'train': {'id00001/vidA/00001': 1, 'id00001/vidA/00002': 0},
    'test': {'id00002/vidB/00001': 1},
  }
  for examples in splits.values():
    for clip, ex in by_clip(examples).items():
      check_clip(ex, clip)
  # The class names come back with the prepared data, as the trainer and
  # another project read it.
  for reread in (
    tfds.builder('video_folder/labelled', data_dir=tmp_path),
    tfds.builder_from_directory(builder.data_dir),
  ):
    assert reread.info.features['label'].names == ['happy', 'sad']
    assert reread.info.supervised_keys == ('video', 'label')


def test_unlabelled(folder, tmp_path, caplog):
  builder, splits = dummy_clips.build(
    'video_folder/unlabelled', folder, tmp_path
  )
  out = caplog.text
  assert 'video_folder: 1 of 3 clips have no OpenFace CSV' in out
  assert 'video_folder: 1 of 4 videos have no face-crop frames' in out
  assert 'id00003/vidC/00001.mp4' in out
  assert list(splits) == ['train']
  examples = by_clip(splits['train'])
  assert sorted(examples) == sorted(CLIPS)
  assert {int(ex['label']) for ex in examples.values()} == {-1}
  for clip, ex in examples.items():
    check_clip(ex, clip)
  label = tfds.builder('video_folder/unlabelled', data_dir=tmp_path).info
  assert label.features['label'].num_classes == 0


def test_prepare_refuses_another_folder(folder, tmp_path, capsys):
  """A data dir holds one video_folder/labelled: prepare says so when given
  another folder, instead of keeping the first one silently."""
  args = ['video_folder/labelled', '--data_dir', str(tmp_path / 'data')]
  assert prepare.main([*args, '--manual_dir', str(folder)]) == 0
  other = shutil.copytree(folder, tmp_path / 'other')
  capsys.readouterr()  # the first preparation's progress
  with pytest.raises(SystemExit) as exit_:
    prepare.main([*args, '--manual_dir', str(other)])
  assert exit_.value.code == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1, err
  assert err.startswith(
    f'error: {tmp_path}/data/video_folder/labelled/1.0.0 holds '
    f'video_folder/labelled/1.0.0 prepared from {folder}, not {other}: give '
    'each folder its own data dir'
  ), err
  # The same folder again: already prepared, nothing to do.
  assert prepare.main([*args, '--manual_dir', str(folder)]) == 0


def test_class_order_is_numeric_for_numbers():
  from tfds_builders.video_folder import labels

  names = ['10', 'b', '2', 'a', '1']
  assert labels.class_order(names) == ['1', '2', '10', 'a', 'b']


def copy(folder, tmp_path, labels):
  manual = tmp_path / 'manual'
  shutil.copytree(folder, manual)
  (manual / 'labels.csv').unlink()
  for name, text in labels.items():
    (manual / name).write_text(text)
  return manual


ROW_1 = 'id00001/vidA/00001.mp4,sad'
ROW_2 = 'id00002/vidB/00001.mkv,happy'


@pytest.mark.parametrize(
  ('labels', 'message'),
  [
    (
      {'labels.csv': f'path,label,split\n{ROW_1},train\nid9/x/1.mp4,sad,test'},
      r'labels\.csv: line 3, field path: no video \S*/manual/id9/x/1\.mp4 ',
    ),
    (
      {'labels.csv': f'path,label,split\n{ROW_1},train\n{ROW_2},val\n'},
      r"labels\.csv: line 3, field split: unknown split 'val' \(expected "
      r'train or test\)$',
    ),
    (
      {'labels.csv': f'path,label,split\n{ROW_1[:-3]},train\n{ROW_2},val'},
      r'labels\.csv: line 2, field label: empty \(the class of id00001/vidA/'
      r'00001\.mp4\) \(1 more bad row\(s\) after it\)$',
    ),
    (
      {'labels.csv': 'path,label,split\nid00003/vidC/00001.mp4,sad,test'},
      r'labels\.csv: line 2, field path: \S*/id00003/vidC/00001\.mp4 has no '
      r'face-crop frames folder .* run python -m tfds_builders\.face_crop '
      r'--manual_dir ',
    ),
    (
      {'labels.csv': f'path,class,split\n{ROW_1},train'},
      r'labels\.csv: line 1: the header has no column label \(expected '
      r'path,label,split, got path,class,split\)$',
    ),
    (
      {
        'train.csv': f'path,label\n{ROW_1}\n',
        'test.csv': f'path,label\n{ROW_1}',
      },
      r'test\.csv: line 2, field path: id00001/vidA/00001\.mp4 is listed '
      r'twice \(also \S*/train\.csv: line 2\)$',
    ),
    (
      {'labels.csv': f'path,label,split\n{ROW_1},train', 'test.csv': ''},
      r'has both labels\.csv and test\.csv; keep one kind',
    ),
    ({}, r'manual: no labels\.csv \(path,label,split\) nor train\.csv'),
  ],
  ids=[
    'missing_video',
    'unknown_split',
    'empty_label',
    'not_cropped',
    'no_label_column',
    'twice_across_splits',
    'both_kinds',
    'no_csv',
  ],
)
def test_bad_labels(folder, tmp_path, labels, message):
  manual = copy(folder, tmp_path, labels)
  assert_fails_cleanly('video_folder/labelled', manual, tmp_path, message)
  with pytest.raises(DatasetLayoutError) as error:
    dummy_clips.build('video_folder/labelled', manual, tmp_path / 'again')
  assert '\n' not in str(error.value)  # one line


def test_no_frames_at_all(tmp_path):
  manual = tmp_path / 'manual'
  (manual / 'id1').mkdir(parents=True)
  make_dummy_data.write_video(manual / 'id1' / 'a.mp4', 2)
  assert_fails_cleanly(
    'video_folder/unlabelled',
    manual,
    tmp_path,
    r'manual: 1 videos but no face-crop frames under \S*/manual/frames; run '
    r'python -m tfds_builders\.face_crop --manual_dir ',
  )


def test_from_videos_through_face_crop_and_openface(tmp_path, fake_openface):
  """Real face videos -> the face-crop command -> run_openface (a fake
  FeatureExtraction) -> video_folder/labelled with one CSV per split, as
  the README runs them."""
  manual = tmp_path / 'videos'
  videos = {'id1/v/00001': ('.mp4', 3), 'id2/w/00001': ('.mkv', 4)}
  for clip, (suffix, length) in videos.items():
    name = clip + suffix
    (manual / name).parent.mkdir(parents=True)
    face_videos.write(manual / name, face_videos.moving_face(length)[0])
  (manual / 'train.csv').write_text('path,label\nid1/v/00001.mp4,neutral\n')
  (manual / 'test.csv').write_text('path,label\nid2/w/00001.mkv,anger\n')
  face_videos.face_crop(manual)
  run_openface.main(
    ['--dataset', 'video_folder', '--manual_dir', str(manual)]
    + ['--workers', '1']
  )
  assert sorted(fake_openface.read_text().split()) == [
    str(manual / 'frames' / clip) for clip in sorted(videos)
  ]
  builder, splits = dummy_clips.build(
    'video_folder/labelled', manual, tmp_path / 'data'
  )
  assert builder.info.features['label'].names == ['anger', 'neutral']
  got = {
    split: [(ex['clip_id'].decode(), int(ex['label'])) for ex in examples]
    for split, examples in splits.items()
  }
  assert got == {
    'train': [('id1/v/00001', 1)],
    'test': [('id2/w/00001', 0)],
  }
  for examples in splits.values():
    (ex,) = examples
    _, length = videos[ex['clip_id'].decode()]
    assert np.asarray(ex['video']).shape == (length, 224, 224, 3)
    # The fake tracks every frame (confidence 0.9) with every AU present.
    np.testing.assert_allclose(ex['face_confidence'], [0.9] * length)
    assert ex['au_presence'].shape == (length, 18) and ex['au_presence'].all()
    assert ex['au_valid'] and ex['au_label'].all()
