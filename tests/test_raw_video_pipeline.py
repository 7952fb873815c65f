"""Issue 13's raw-video path end to end: mp4 files in the RAVDESS layout ->
`python -m tfds_builders.face_crop --manual_dir` -> run_openface (a fake
FeatureExtraction) -> the TFDS builder; every stage as the README runs it."""

import csv
import subprocess
import sys

import dummy_clips
import face_videos
import numpy as np
import tensorflow as tf

from tfds_builders import run_openface
from tfds_builders.face_crop import detector as detector_lib

# file name -> (frames, frames without the face): each a real face video.
RAVDESS_VIDEOS = {
  'Video_Speech_Actor_01/Actor_01/01-01-03-01-01-01-01.mp4': (6, ()),  # happy
  # Its video-only copy: the audio-video file is kept.
  'Video_Speech_Actor_01/Actor_01/02-01-03-01-01-01-01.mp4': (4, ()),
  'Video_Speech_Actor_01/Actor_01/02-01-04-02-02-01-01.mp4': (5, ()),  # sad
  'Video_Speech_Actor_01/Actor_01/03-01-05-01-01-01-01.mp4': (4, ()),  # audio
  # A calm song whose face is away in frame 4, and a neutral speech clip.
  'Video_Song_Actor_02/Actor_02/01-02-02-01-01-02-02.mp4': (7, (3,)),
  'Video_Speech_Actor_02/Actor_02/01-01-01-02-02-01-02.mp4': (5, ()),
}
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
CROP = 224  # the face crop's default side


def _write_videos(root, videos):
  for name, (length, absent) in videos.items():
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    face_videos.write(root / name, face_videos.moving_face(length, absent)[0])


def _face_crop(manual_dir):
  out = subprocess.run(
    [sys.executable, '-m', 'tfds_builders.face_crop']
    + ['--manual_dir', str(manual_dir), '--workers', '1'],
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert out.returncode == 0, out.stderr


def _faces_column(clip_dir):
  with open(clip_dir / 'faces.csv', newline='') as f:
    return [int(row['face']) for row in csv.DictReader(f)]


def _csv_rows(path):
  """The data rows of a CSV, counted without the product's parser."""
  return len(path.read_text().strip().splitlines()) - 1


def test_ravdess_from_mp4_files(tmp_path, fake_openface):
  manual = tmp_path / 'RAVDESS'
  _write_videos(manual, RAVDESS_VIDEOS)
  _face_crop(manual)
  # The frames of <rel>/<stem>.mp4 are in frames/<rel>/<stem>/.
  clips = {
    name.split('/')[-1][:-4]: manual / 'frames' / name[:-4]
    for name in RAVDESS_VIDEOS
  }
  for name, (length, absent) in RAVDESS_VIDEOS.items():
    clip = clips[name.split('/')[-1][:-4]]
    jpegs = sorted(p.name for p in clip.glob('*.jpg'))
    assert jpegs == [f'{n:05d}.jpg' for n in range(1, length + 1)], clip
    face = _faces_column(clip)
    assert [face[t] for t in absent] == [0] * len(absent), clip
    assert all(face[t] for t in range(length) if t not in absent), clip

  run_openface.main(
    ['--dataset', 'ravdess', '--manual_dir', str(manual), '--workers', '1']
  )
  # Every face-crop folder, the skipped copies too, got its CSV.
  called = sorted(fake_openface.read_text().split())
  assert called == sorted(str(clip) for clip in clips.values())
  for name, (length, _) in RAVDESS_VIDEOS.items():
    csv_path = manual / 'openface' / 'frames' / f'{name[:-4]}.csv'
    assert _csv_rows(csv_path) == length

  _, splits = dummy_clips.build('ravdess/7_classes', manual, tmp_path / 'data')
  got = {
    split: sorted(ex['clip_id'].decode() for ex in examples)
    for split, examples in splits.items()
  }
  assert got == {s: sorted(c) for s, c in RAVDESS_EXAMPLES.items()}
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
      assert ex['num_frames'] == length
      video = np.asarray(ex['video'])
      assert video.shape == (length, CROP, CROP, 3), clip_id
      # The stored frames are the face-crop JPEGs (bytes kept), in order ...
      for t in range(length):
        jpeg = (clips[clip_id] / f'{t + 1:05d}.jpg').read_bytes()
        np.testing.assert_array_equal(video[t], tf.io.decode_jpeg(jpeg))
      # ... and hold the face in their middle (the crop is 1.4 faces wide).
      face = detector(video[0])
      assert face is not None, clip_id
      centre = np.array([face.x + face.w / 2, face.y + face.h / 2])
      assert np.abs(centre - CROP / 2).max() < 0.05 * CROP, (clip_id, face)
      assert 0.55 < face.w / CROP < 0.9, (clip_id, face)
      # The fake tracks every frame and marks each AU present, intensity 1.
      assert ex['au_valid'] and ex['au_label'].tolist() == [1] * 18
      np.testing.assert_array_equal(ex['face_success'], [True] * length)
      np.testing.assert_allclose(ex['face_confidence'], [0.9] * length)
      np.testing.assert_array_equal(ex['au_presence'], np.ones((length, 18)))
      np.testing.assert_allclose(ex['au_intensity'], np.ones((length, 17)))
