"""`python -m audfer_jax.predict` end to end on a tiny trained demo model.

The model is the demo's (tiny Former-DFER) trained for one epoch (6 steps)
on au_faces/tiny; the videos are the astronaut test videos.
"""

import csv
import io
import json
import re
import shutil
import subprocess
import sys

import cli_checks
import face_videos
import jax
import numpy as np
from PIL import Image
import pytest
import repo_command
import tensorflow as tf

from audfer_jax import checkpointing
from audfer_jax import inference
from audfer_jax.predict import windows
from configs import demo
from tfds_builders import facs

AU_FACES_NAMES = [
  'happy',
  'sad',
  'neutral',
  'angry',
  'surprise',
  'disgust',
  'fear',
]


def test_windows_by_hand():
  assert windows.windows(40, 16, 8) == [(0, 16), (8, 24), (16, 32), (24, 40)]
  # The last window is moved back to end at the last frame.
  assert windows.windows(30, 16, 8) == [(0, 16), (8, 24), (14, 30)]
  assert windows.windows(10, 16, 8) == [(0, 10)]
  np.testing.assert_array_equal(
    windows.centres([(0, 16), (14, 30)]), [7.5, 21.5]
  )
  with pytest.raises(ValueError, match='>= 1'):
    windows.windows(0, 16, 8)


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
  """The demo trained for 2 steps (42 clips, batch 16) by run.py, which
  records the config.json predict rebuilds the model from."""
  root = tmp_path_factory.mktemp('predict')
  repo_command.run(
    [
      sys.executable, 'run.py', '--config', 'configs/demo.py',
      '--workdir', str(root / 'run'), '--config.dataset=au_faces/tiny',
      f'--config.data_dir={root / "tfds"}', '--config.num_epochs=1',
      '--config.batch_size=16', '--config.eval_batch_size=16',
      '--config.warmup_epochs=0',
    ]
  )  # fmt: skip
  return root / 'run'


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
  root = tmp_path_factory.mktemp('videos')
  frames, _ = face_videos.moving_face(40)
  face_videos.write(root / 'face.mp4', frames, fps=20)
  face_videos.write(root / 'grey.avi', np.full((8, 96, 128, 3), 90, np.uint8))
  return root


def _predict(*args):
  return subprocess.run(
    [sys.executable, '-m', 'audfer_jax.predict', *args],
    cwd=repo_command.ROOT,
    capture_output=True,
    text=True,
    timeout=900,  # a 2-core machine busy with other tests
  )


def _by_hand(workdir, frames_dir, start):
  """The window's probabilities computed apart from the predict code: the
  demo samples 4 segments x 2 frames (segment centres), keeps the central
  70 %, resizes to 32 x 32 and divides by 255."""
  config = json.loads((workdir / 'config.json').read_text())
  assert (config['model'], config['frames_per_segment']) == (
    'former_dfer_tiny',
    2,
  )
  # 16 frames, 4 segments of 3.75 frames: starts 0, 3.75, 7.5, 11.25, each
  # plus (3.75 - 1) / 2, floored: 1, 5, 8, 12, and the frame after each.
  picked = [1, 2, 5, 6, 8, 9, 12, 13]
  images = [
    tf.io.decode_jpeg((frames_dir / f'{start + i + 1:05d}.jpg').read_bytes())
    for i in picked
  ]
  video = tf.image.central_crop(tf.cast(tf.stack(images), tf.float32), 0.7)
  video = tf.image.resize(video, [32, 32]).numpy() / 255.0
  model = inference.create_model(demo.get_config(), 7)
  checkpointing.load_weights(model, str(workdir), 'best')
  model.eval()
  expr, aus = model(video[None])
  return (
    np.asarray(jax.nn.softmax(expr))[0],
    np.asarray(jax.nn.sigmoid(aus))[0],
  )


def test_predict_end_to_end(workdir, videos, tmp_path):
  out = _predict(  # fmt: skip
    '--workdir',
    str(workdir),
    '--input',
    str(videos),
    '--output',
    str(tmp_path),
    '--window',
    '16',
    '--stride',
    '8',
    '--size',
    '64',
  )
  # The grey video has no face: one error line, the other video goes on.
  assert out.returncode == 1, out.stderr[-3000:]
  assert 'error: ' in out.stdout and 'grey.avi: no face found' in out.stdout
  assert not (tmp_path / 'grey' / 'predictions.json').exists()
  result = tmp_path / 'face'
  pred = json.loads((result / 'predictions.json').read_text())
  assert pred['class_names'] == AU_FACES_NAMES
  assert pred['au_names'] == list(facs.AU_PRESENCE_NAMES)
  assert (pred['num_frames'], pred['fps']) == (40, 20.0)
  spans = [(w['start_frame'], w['end_frame']) for w in pred['windows']]
  assert spans == [(0, 15), (8, 23), (16, 31), (24, 39)]
  assert pred['windows'][1]['start_s'] == pytest.approx(0.4)
  for w in pred['windows']:
    p = np.array(list(w['probabilities'].values()))
    assert p.sum() == pytest.approx(1.0, abs=1e-4)
    assert w['expression'] == AU_FACES_NAMES[int(p.argmax())]
    assert len(w['au_probabilities']) == 18
  with open(result / 'predictions.csv', newline='') as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 4
  assert float(rows[2]['p_sad']) == pred['windows'][2]['probabilities']['sad']
  assert (
    float(rows[2]['AU12']) == (pred['windows'][2]['au_probabilities']['AU12'])
  )
  image = Image.open(io.BytesIO((result / 'timeline.png').read_bytes()))
  assert image.size == (1000, 750)

  # Window 2 (frames 16..31) against the model applied by hand.
  expr, aus = _by_hand(workdir, result / 'faces', 16)
  w = pred['windows'][2]
  np.testing.assert_allclose(
    [w['probabilities'][n] for n in AU_FACES_NAMES], expr, atol=2e-5
  )
  np.testing.assert_allclose(
    [w['au_probabilities'][n] for n in facs.AU_PRESENCE_NAMES], aus, atol=2e-5
  )

  # A folder of frames (the crops just written) gives the same windows.
  again = _predict(
    '--config',
    'configs/demo.py',
    '--checkpoint',
    str(workdir / 'best'),
    '--config.dataset=au_faces/tiny',
    f'--config.data_dir={tmp_path}/none',
    '--input',
    str(result / 'faces'),
    '--output',
    str(tmp_path / 'frames'),
    '--window',
    '16',
    '--stride',
    '8',
  )
  assert again.returncode == 0, again.stderr[-3000:]
  frames_pred = json.loads(
    (tmp_path / 'frames' / 'faces' / 'predictions.json').read_text()
  )
  assert frames_pred['fps'] is None
  assert frames_pred['windows'][0]['start_s'] is None
  for a, b in zip(frames_pred['windows'], pred['windows'], strict=True):
    assert a['probabilities'] == pytest.approx(b['probabilities'], abs=1e-5)

  # A frame that does not decode: one line naming it, nothing written.
  broken = tmp_path / 'broken'
  shutil.copytree(result / 'faces', broken)
  jpeg = (broken / '00007.jpg').read_bytes()
  (broken / '00007.jpg').write_bytes(jpeg[: len(jpeg) // 2])
  out = _predict(
    '--workdir', str(workdir), '--input', str(broken),
    '--output', str(tmp_path / 'broken_out'),
  )  # fmt: skip
  assert out.returncode == 1, out.stderr[-3000:]
  assert 'Traceback' not in out.stderr
  assert f'error: {broken}/00007.jpg: frame does not decode' in out.stdout
  assert not (tmp_path / 'broken_out' / 'broken' / 'predictions.json').exists()


def test_a_checkpoint_of_another_model(workdir, videos, tmp_path):
  out = _predict(
    '--config',
    'configs/demo.py',
    '--config.model=mae_dfer_tiny',
    '--checkpoint',
    str(workdir),
    '--input',
    str(videos / 'face.mp4'),
    '--output',
    str(tmp_path),
  )
  # Found after TensorFlow and JAX load (their own log lines come first):
  # the last line, exit code 2, no traceback.
  assert out.returncode == 2, out.stderr
  assert 'Traceback' not in out.stderr
  last = out.stderr.strip().splitlines()[-1]
  assert re.match(
    r'error: --checkpoint .*/run, model mae_dfer_tiny: Checkpoint '
    r'.*/best/2 does not match this model: missing in the checkpoint',
    last,
  ), last


@pytest.mark.parametrize(
  'args, message',
  [
    (['--output', 'x', '--workdir', '.'], '--input is required'),
    (['--input', 'README.md', '--output', 'x'], 'either --workdir, or'),
    (
      ['--workdir', 'configs', '--input', 'configs', '--output', 'x'],
      'configs: no config.json',
    ),
    (
      ['--config', 'configs/demo.py', '--input', 'x', '--output', 'y'],
      '--config and --checkpoint go together',
    ),
    (
      [
        '--config',
        'configs/demo.py',
        '--checkpoint',
        'configs',
        '--input',
        'README.md',
        '--output',
        'y',
      ],
      'README.md: not a video',
    ),
    (
      [
        '--config',
        'configs/demo.py',
        '--checkpoint',
        'configs',
        '--input',
        'docs',
        '--output',
        'y',
        '--window',
        '0',
      ],
      '--window must be at least 1',
    ),
    (
      [
        '--config',
        'configs/demo.py',
        '--checkpoint',
        'configs',
        '--input',
        'configs',
        '--output',
        'y',
      ],
      'configs: neither frames',
    ),
  ],
)
def test_usage_errors_are_one_line(args, message):
  out = repo_command.run_light('audfer_jax.predict', *args, blocked=('jax',))
  cli_checks.assert_one_line_error(out, message)
