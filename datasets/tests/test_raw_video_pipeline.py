"""Issue 13's raw-video path end to end: videos in the RAVDESS and Aff-Wild2
layouts -> `python -m tfds_builders.face_crop --manual_dir` -> run_openface
(a fake FeatureExtraction) -> the TFDS builders; each stage as the README
runs it."""

import csv

import dummy_clips
import face_videos
import numpy as np
import tensorflow as tf

from tfds_builders import run_openface
from tfds_builders.face_crop import detector as detector_lib

# file -> (frames, 0-based frames without the face): real face videos.
RAVDESS_VIDEOS = {
  'Video_Speech_Actor_01/Actor_01/01-01-03-01-01-01-01.mp4': (6, ()),  # happy
  # Its video-only copy (RAVDESS_COPY): neither cropped nor analysed.
  'Video_Speech_Actor_01/Actor_01/02-01-03-01-01-01-01.mp4': (4, ()),
  'Video_Speech_Actor_01/Actor_01/02-01-04-02-02-01-01.mp4': (5, ()),  # sad
  # Audio only (RAVDESS ships these as .wav): never stored.
  'Video_Speech_Actor_01/Actor_01/03-01-05-01-01-01-01.mp4': (4, ()),
  # A calm song whose face is away in frame 4, and a neutral speech clip.
  'Video_Song_Actor_02/Actor_02/01-02-02-01-01-02-02.mp4': (7, (3,)),
  'Video_Speech_Actor_02/Actor_02/01-01-01-02-02-01-02.mp4': (5, ()),
}
RAVDESS_COPY = 'Video_Speech_Actor_01/Actor_01/02-01-03-01-01-01-01.mp4'
# What the builder must store, written out by hand from the file names:
# (frames, label (0 happy, 1 sad, 2 neutral), emotion (0 neutral, 1 calm,
# 2 happy, 3 sad), vocal channel (0 speech, 1 song), intensity).
RAVDESS_EXAMPLES = {
  'actor_01': {
    '01-01-03-01-01-01-01': (6, 0, 2, 0, 0),
    '02-01-04-02-02-01-01': (5, 1, 3, 0, 1),
  },
  'actor_02': {
    '01-02-02-01-01-02-02': (7, 2, 1, 1, 0),
    '01-01-01-02-02-01-02': (5, 2, 0, 0, 1),
  },
}
# Aff-Wild2: one EXPR_Set label file per video, one code per frame (0
# Neutral, 4 Happiness, 5 Sadness, 6 Surprise, 7 Other, -1 unannotated).
HEADER = 'Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other'
TRAIN_CODES = [4] * 10 + [0] * 6 + [7] * 4 + [5] * 8 + [-1] * 4 + [4] * 2
VALIDATION_CODES = [6] * 16
AFFWILD2_VIDEOS = {
  'videos/batch1/train1.mp4': (len(TRAIN_CODES), ()),
  'videos/valid1.avi': (len(VALIDATION_CODES), (4,)),  # face away in frame 5
}
# By hand: windows 1-16 and 17-32 of train1 (8 of 16 labelled: kept; 33-34
# make no window), 1-16 of valid1; canonical classes 0 happy, 1 sad,
# 2 neutral, 4 surprise, -1 for Other and unannotated.
AFFWILD2_EXAMPLES = {
  'train': {
    'train1/00001': (0, [0] * 10 + [2] * 6),
    'train1/00017': (1, [-1] * 4 + [1] * 8 + [-1] * 4),
  },
  'validation': {'valid1/00001': (4, [4] * 16)},
}
CROP = 224  # the face crop's default side


def _write_videos(root, videos):
  for name, (length, absent) in videos.items():
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    face_videos.write(root / name, face_videos.moving_face(length, absent)[0])


def _check_face_crops(manual, videos):
  """{video stem: its face-crop folder}, each checked against its video."""
  clips = {}
  for name, (length, absent) in videos.items():
    # The frames of <rel>/<stem>.<ext> are in frames/<rel>/<stem>/.
    clip = manual / 'frames' / name.rsplit('.', 1)[0]
    clips[clip.name] = clip
    jpegs = sorted(p.name for p in clip.glob('*.jpg'))
    assert jpegs == [f'{n:05d}.jpg' for n in range(1, length + 1)], clip
    with open(clip / 'faces.csv', newline='') as f:
      face = [int(row['face']) for row in csv.DictReader(f)]
    assert [face[t] for t in absent] == [0] * len(absent), clip
    assert all(face[t] for t in range(length) if t not in absent), clip
  return clips


def _run_openface(dataset, manual, videos, clips, log):
  run_openface.main(
    ['--dataset', dataset, '--manual_dir', str(manual), '--workers', '1']
  )
  # Every face-crop folder got its CSV, one data row per frame (counted
  # without the product's parser).
  called = sorted(log.read_text().split())
  assert called == sorted(str(clip) for clip in clips.values())
  for name, (length, _) in videos.items():
    csv_path = (
      manual / 'openface' / 'frames' / (name.rsplit('.', 1)[0] + '.csv')
    )
    assert len(csv_path.read_text().strip().splitlines()) == 1 + length


def _check_clip(ex, clip_dir, first, length, detector):
  """The example holds frames first..first+length-1 of the face crops, with
  the fake OpenFace's AUs."""
  assert ex['num_frames'] == length
  video = np.asarray(ex['video'])
  assert video.shape == (length, CROP, CROP, 3)
  # The stored frames are the face-crop JPEGs (bytes kept), in order ...
  for t in range(length):
    jpeg = (clip_dir / f'{first + t:05d}.jpg').read_bytes()
    np.testing.assert_array_equal(video[t], tf.io.decode_jpeg(jpeg))
  # ... and hold the face in their middle (the crop is 1.4 faces wide).
  face = detector(video[0])
  assert face is not None
  centre = np.array([face.x + face.w / 2, face.y + face.h / 2])
  assert np.abs(centre - CROP / 2).max() < 0.05 * CROP, face
  assert 0.55 < face.w / CROP < 0.9, face
  # The fake tracks every frame and marks each AU present, intensity 1.
  assert ex['au_valid'] and ex['au_label'].tolist() == [1] * 18
  np.testing.assert_array_equal(ex['face_success'], [True] * length)
  np.testing.assert_allclose(ex['face_confidence'], [0.9] * length)
  np.testing.assert_array_equal(ex['au_presence'], np.ones((length, 18)))
  np.testing.assert_allclose(ex['au_intensity'], np.ones((length, 17)))


def _build_from_videos(
  dataset, builder, manual, videos, examples, log, skipped=()
):
  """Face crops -> OpenFace -> TFDS for the videos under `manual`, each
  stage checked; ({video stem: its face crops}, {split: examples}) after
  checking that the splits hold the clips of `examples`. The `skipped`
  videos (those the builder does not read) are neither cropped nor
  analysed."""
  stdout = face_videos.face_crop(manual)
  if skipped:
    assert f'skipped {len(skipped)} video-only copies (02-*)' in stdout
  for name in skipped:
    assert not (manual / 'frames' / name.rsplit('.', 1)[0]).exists()
  videos = {k: v for k, v in videos.items() if k not in skipped}
  clips = _check_face_crops(manual, videos)
  _run_openface(dataset, manual, videos, clips, log)
  _, splits = dummy_clips.build(builder, manual, manual.parent / 'data')
  assert {
    split: sorted(ex['clip_id'].decode() for ex in split_examples)
    for split, split_examples in splits.items()
  } == {split: sorted(clip_ids) for split, clip_ids in examples.items()}
  return clips, splits


def test_ravdess_from_mp4_files(tmp_path, fake_openface):
  manual = tmp_path / 'RAVDESS'
  _write_videos(manual, RAVDESS_VIDEOS)
  clips, splits = _build_from_videos(
    'ravdess',
    'ravdess/7_classes',
    manual,
    RAVDESS_VIDEOS,
    RAVDESS_EXAMPLES,
    fake_openface,
    skipped=[RAVDESS_COPY],
  )
  detector = detector_lib.HaarDetector()
  for split, examples in splits.items():
    for ex in examples:
      clip_id = ex['clip_id'].decode()
      length, label, emotion, channel, intensity = RAVDESS_EXAMPLES[split][
        clip_id
      ]
      assert (ex['label'], ex['emotion']) == (label, emotion), clip_id
      assert (ex['vocal_channel'], ex['intensity']) == (channel, intensity)
      assert ex['actor'] == int(split[-2:])
      _check_clip(ex, clips[clip_id], 1, length, detector)


def test_affwild2_from_videos_and_label_files(tmp_path, fake_openface):
  manual = tmp_path / 'Aff-Wild2'
  _write_videos(manual, AFFWILD2_VIDEOS)
  labels = manual / '6th_ABAW_Annotations' / 'EXPR_Set'
  for folder, stem, codes in [
    ('Train_Set', 'train1', TRAIN_CODES),
    ('Validation_Set', 'valid1', VALIDATION_CODES),
  ]:
    (labels / folder).mkdir(parents=True)
    lines = [HEADER] + [str(c) for c in codes]
    (labels / folder / f'{stem}.txt').write_text('\n'.join(lines) + '\n')
  clips, splits = _build_from_videos(
    'affwild2',
    'affwild2/window_16',
    manual,
    AFFWILD2_VIDEOS,
    AFFWILD2_EXAMPLES,
    fake_openface,
  )
  codes = {'train1': TRAIN_CODES, 'valid1': VALIDATION_CODES}
  detector = detector_lib.HaarDetector()
  for split, examples in splits.items():
    for ex in examples:
      clip_id = ex['clip_id'].decode()
      label, frame_labels = AFFWILD2_EXAMPLES[split][clip_id]
      stem, first = clip_id.split('/')
      first = int(first)
      assert ex['label'] == label, clip_id
      assert ex['video_id'].decode() == stem
      assert ex['frame_labels'].tolist() == frame_labels, clip_id
      assert ex['expression_codes'].tolist() == codes[stem][first - 1 :][:16]
      _check_clip(ex, clips[stem], first, 16, detector)
