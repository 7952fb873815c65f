"""Face crops from videos (tfds_builders.face_crop): tracking by hand and
against scipy, the Haar detector on a real face, the command end to end."""

import csv
import pathlib
import subprocess
import sys

import cli_checks
import cv2
import face_videos
import numpy as np
import pytest
from scipy import ndimage
import skimage.data

from tfds_builders.face_crop import crop
from tfds_builders.face_crop import decode
from tfds_builders.face_crop import detector as detector_lib
from tfds_builders.face_crop import tracking

Box = detector_lib.Box
# The distribution's root (README.md, tests/): the usage errors' paths.
DATASETS = pathlib.Path(__file__).parents[1]


def test_square_boxes_by_hand():
  boxes = tracking.square_boxes([Box(10, 20, 40, 50), None], margin=0.25)
  # centre (10 + 20, 20 + 25), side 50 * 1.5
  np.testing.assert_array_equal(boxes[0], [30, 45, 75])
  assert np.isnan(boxes[1]).all()


def test_fill_nearest_takes_the_closest_found_frame():
  v = np.full((6, 3), np.nan)
  v[1], v[4] = 1.0, 4.0
  filled = tracking.fill_nearest(v)[:, 0]
  # frame 0 -> 1; 2 -> 1; 3 -> 4; 5 -> 4; a tie would go to the earlier.
  np.testing.assert_array_equal(filled, [1, 1, 1, 4, 4, 4])
  v[4] = np.nan
  v[3] = 3.0
  np.testing.assert_array_equal(
    tracking.fill_nearest(v)[:, 0], [1, 1, 1, 3, 3, 3]
  )
  with pytest.raises(ValueError, match='no frame has a detection'):
    tracking.fill_nearest(np.full((3, 3), np.nan))


def test_smooth_is_median_then_mean_as_scipy_computes_them():
  values = np.random.default_rng(0).normal(size=(40, 3)) * 10
  median = ndimage.median_filter(values, size=(7, 1), mode='nearest')
  want = ndimage.uniform_filter1d(median, 7, axis=0, mode='nearest')
  # Away from the ends (3 + 3 frames per filter), the windows are whole.
  np.testing.assert_allclose(
    tracking.smooth(values, 7)[6:-6], want[6:-6], atol=1e-12
  )
  with pytest.raises(ValueError, match='must be odd'):
    tracking.smooth(values, 4)


def test_smooth_shrinks_its_window_at_the_ends():
  v = np.array([[0.0], [9.0], [3.0], [6.0], [12.0]])
  # Medians over 1, 3, 5, 3, 1 frames: 0, 3, 6, 6, 12; then means over
  # the same spans: 0, (0 + 3 + 6) / 3, (0 + 3 + 6 + 6 + 12) / 5, ...
  want = [0.0, 3.0, 27 / 5, 8.0, 12.0]
  np.testing.assert_allclose(tracking.smooth(v, 5)[:, 0], want)


def test_track_drops_a_one_frame_false_detection():
  # A still face, side 40 -> crop side 56, centred at (120, 70).
  detections = [Box(100, 50, 40, 40)] * 20
  detections[8] = Box(10, 200, 20, 20)  # a false detection elsewhere
  detections[12] = None  # a missed frame: filled from frame 11
  boxes = tracking.track(detections, margin=0.2, window=5)
  # Every 5-frame window holds at most one outlier: its median is the face.
  np.testing.assert_array_equal(boxes, [[120 - 28, 70 - 28, 56]] * 20)


def test_track_follows_a_steady_motion():
  # A face moving 3 px a frame to the right: medians and means of a straight
  # line over centred windows are the line itself.
  detections = [Box(100 + 3 * t, 50, 40, 40) for t in range(20)]
  boxes = tracking.track(detections, margin=0.2, window=5)
  t = np.arange(20)
  np.testing.assert_array_equal(boxes[:, 0], 100 + 3 * t + 20 - 28)
  np.testing.assert_array_equal(boxes[:, 1], 50 + 20 - 28)
  np.testing.assert_array_equal(boxes[:, 2], 56)


def test_crop_pads_outside_the_frame_with_black():
  frame = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
  out = crop.crop(frame, (-1, 2, 3), size=3)  # rows 2..4, columns -1..1
  want = np.zeros((3, 3, 3), np.uint8)
  want[:2, 1:] = frame[2:4, 0:2]
  np.testing.assert_array_equal(out, want)


def test_haar_finds_the_astronaut():
  box = detector_lib.HaarDetector()(skimage.data.astronaut())
  # OpenCV's own cascade on the full-size photo: [177 66 95 95]; ours
  # searches it at 480 px, so a few pixels of rounding.
  np.testing.assert_allclose(
    [box.x, box.y, box.w, box.h], [177, 66, 95, 95], atol=3
  )
  assert (
    detector_lib.HaarDetector()(np.full((240, 320, 3), 128, np.uint8)) is None
  )


def test_a_corrupt_file_is_a_video_error(tmp_path):
  path = tmp_path / 'broken.mp4'
  path.write_bytes(b'\x00\x00\x00\x18ftypmp42' + bytes(500))
  with pytest.raises(decode.VideoError, match='broken.mp4'):
    list(decode.frames(path))


def _read_faces_csv(path):
  with open(path, newline='') as f:
    rows = list(csv.DictReader(f))
  assert list(rows[0]) == ['frame', 'face', 'x', 'y', 'size']
  return rows


ABSENT = (12, 13, 14)


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
  """A folder of videos: a moving face (mp4, in a subfolder), a grey video
  without a face (avi) and a corrupt file; and the face's true boxes."""
  root = tmp_path_factory.mktemp('videos')
  (root / 'sub').mkdir()
  frames, faces = face_videos.moving_face(30, absent=ABSENT)
  face_videos.write(root / 'sub' / 'face.mp4', frames)
  face_videos.write(
    root / 'empty.avi', np.full((10, 120, 160, 3), 90, np.uint8)
  )
  (root / 'broken.mov').write_bytes(b'not a video at all')
  return root, faces


def _crop_command(*args):
  return subprocess.run(
    [sys.executable, '-m', 'tfds_builders.face_crop', *args],
    capture_output=True,
    text=True,
    timeout=120,
  )


def test_command_crops_tracks_and_resumes(videos, tmp_path):
  root, faces = videos
  out = tmp_path / 'crops'
  run = _crop_command(
    '--input', str(root), '--output', str(out), '--size', '64', '--workers', '2'
  )
  # The corrupt file fails the run (exit 1); the grey video is reported.
  assert run.returncode == 1, run.stderr
  assert 'broken.mov: cannot be opened as a video' in run.stderr
  assert 'empty.avi: no face found in any of its 10 frames' in run.stderr
  assert '1 videos cropped, 0 already done, 1 without a face, 1 unreadable' in (
    run.stdout
  )
  assert sorted(p.name for p in out.iterdir()) == ['sub']  # nothing else
  clip = out / 'sub' / 'face'
  names = sorted(p.name for p in clip.iterdir())
  assert names == [f'{i:05d}.jpg' for i in range(1, 31)] + ['faces.csv']
  assert cv2.imread(str(clip / '00001.jpg')).shape == (64, 64, 3)
  # The crop holds the face in its middle, about 1 / 1.4 of its side.
  rgb = cv2.imread(str(clip / '00005.jpg'))[..., ::-1]
  face = detector_lib.HaarDetector()(rgb)
  assert face is not None
  assert abs(face.x + face.w / 2 - 32) < 5 and abs(face.y + face.h / 2 - 32) < 5
  assert 0.55 < face.w / 64 < 0.9, face

  rows = _read_faces_csv(clip / 'faces.csv')
  assert [int(r['frame']) for r in rows] == list(range(1, 31))
  found = [r['face'] == '1' for r in rows]
  assert not any(found[t] for t in ABSENT)
  present = [t for t in range(30) if t not in ABSENT]
  assert sum(found[t] for t in present) >= 0.9 * len(present)
  for t in present:
    x, y, side = (float(rows[t][k]) for k in ('x', 'y', 'size'))
    tx, ty, tside = faces[t]
    # The crop is centred on the face and 1.4 times its side, within the
    # detector's few pixels (the box lags a little where the face moves).
    assert abs(x + side / 2 - (tx + tside / 2)) < 6, (t, rows[t], faces[t])
    assert abs(y + side / 2 - (ty + tside / 2)) < 6, (t, rows[t], faces[t])
    assert abs(side / (1.4 * tside) - 1) < 0.15, (t, rows[t], faces[t])

  # Resumable: a finished folder is skipped, a leftover temp folder ignored.
  (out / '.empty.tmp').mkdir()
  again = _crop_command(
    '--input', str(root / 'sub'), '--output', str(out / 'sub')
  )
  assert again.returncode == 0, again.stderr
  assert '0 videos cropped, 1 already done' in again.stdout


def test_manual_dir_writes_frames_and_skips_its_own_folders(tmp_path):
  frames, _ = face_videos.moving_face(6)
  (tmp_path / 'clips').mkdir()
  face_videos.write(tmp_path / 'clips' / 'a.avi', frames)
  (tmp_path / 'frames' / 'old').mkdir(parents=True)
  face_videos.write(tmp_path / 'frames' / 'old' / 'b.mp4', frames)
  (tmp_path / 'openface').mkdir()
  face_videos.write(tmp_path / 'openface' / 'c.mp4', frames)
  run = _crop_command('--manual_dir', str(tmp_path), '--workers', '1')
  assert run.returncode == 0, run.stderr
  assert '1 videos cropped' in run.stdout
  assert (tmp_path / 'frames' / 'clips' / 'a' / '00006.jpg').exists()


def test_manual_dir_crops_one_copy_of_each_ravdess_recording(tmp_path):
  frames, _ = face_videos.moving_face(4)
  actor = tmp_path / 'Video_Speech_Actor_01' / 'Actor_01'
  actor.mkdir(parents=True)
  # Recording 03-01 as audio-video and video only; 04-01 as video only.
  for name in ('01-01-03-01-01-01-01', '02-01-03-01-01-01-01'):
    face_videos.write(actor / f'{name}.mp4', frames)
  face_videos.write(actor / '02-01-04-01-01-01-01.mp4', frames)
  run = _crop_command('--manual_dir', str(tmp_path), '--workers', '1')
  assert run.returncode == 0, run.stderr
  assert (
    'skipped 1 video-only copies (02-*): the ravdess builder reads the '
    'audio-video copies (01-*) of the same recordings'
  ) in run.stdout
  assert '2 videos cropped' in run.stdout
  crops = tmp_path / 'frames' / 'Video_Speech_Actor_01' / 'Actor_01'
  assert sorted(p.name for p in crops.iterdir()) == [
    '01-01-03-01-01-01-01',
    '02-01-04-01-01-01-01',
  ]


@pytest.mark.parametrize(
  'args, message',
  [
    (['--input', '/no/such/video.mp4', '--output', 'x'], 'no such file'),
    (['--output', 'x'], '--input and --output'),
    (['--input', 'README.md', '--output', 'x'], 'README.md: not a video'),
    (['--input', 'tests', '--output', 'x'], 'tests: no .mp4/.avi/.mov'),
    (['--manual_dir', 'd', '--output', 'x'], 'one or the other'),
    (['--input', 'x', '--output', 'y', '--window', '4'], 'must be odd'),
  ],
)
def test_usage_errors_are_one_line(args, message):
  # TensorFlow Datasets (imported by tfds_builders) loads TensorFlow lazily.
  out = cli_checks.run_light(
    'tfds_builders.face_crop', *args, cwd=DATASETS, blocked=('jax',)
  )
  cli_checks.assert_one_line_error(out, message)
