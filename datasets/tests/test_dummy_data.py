"""make_dummy_data.py reproduces the checked-in dummy_data trees.

Text files must match byte for byte. Frames are compared decoded: the JPEG
bytes depend on the libjpeg that Pillow ships, the pixels do not (they are
exact for these uniform gray frames, so no tolerance is needed). Uniform gray
decodes exactly at most JPEG qualities, so the quantization tables are
compared too: they pin the quality. Videos (RAVDESS, Aff-Wild2) are compared
by what OpenCV decodes from them: frame count, size and gray levels.
"""

import pathlib

import cv2
import make_dummy_data
import numpy as np
from PIL import Image
import pytest

import tfds_builders

BUILDERS = pathlib.Path(tfds_builders.__file__).parent
IMAGE_SUFFIXES = ('.jpg', '.png')
VIDEO_SUFFIXES = ('.mp4', '.avi')


def relative_files(root):
  return sorted(
    p.relative_to(root).as_posix() for p in root.rglob('*') if p.is_file()
  )


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
  out = tmp_path_factory.mktemp('generated')
  assert make_dummy_data.main(['--out', str(out)]) == 0
  return out


@pytest.fixture(params=sorted(make_dummy_data.DATASETS))
def trees(request, generated):
  """(generated, checked-in) dummy_data folders of one dataset."""
  name = request.param
  return generated / name / 'dummy_data', BUILDERS / name / 'dummy_data'


def test_same_files(trees):
  new, old = trees
  assert relative_files(new) == relative_files(old)


def test_text_files_are_byte_identical(trees):
  new, old = trees
  binary = IMAGE_SUFFIXES + VIDEO_SUFFIXES
  texts = [r for r in relative_files(old) if not r.endswith(binary)]
  assert texts  # Label lists and OpenFace CSVs.
  for rel in texts:
    assert (new / rel).read_bytes() == (old / rel).read_bytes(), rel


def test_frames_decode_to_the_same_pixels(trees):
  new, old = trees
  frames = [r for r in relative_files(old) if r.endswith(IMAGE_SUFFIXES)]
  assert frames
  for rel in frames:
    with Image.open(new / rel) as a, Image.open(old / rel) as b:
      assert (a.format, a.mode, a.size) == (b.format, b.mode, b.size), rel
      assert np.array_equal(np.asarray(a), np.asarray(b)), rel
      if b.format == 'JPEG':
        assert a.quantization == b.quantization, rel


def decoded_frames(path):
  """The mean gray level of each frame OpenCV decodes from a video."""
  capture = cv2.VideoCapture(str(path))
  means = []
  while True:
    ok, frame = capture.read()
    if not ok:
      break
    assert frame.shape == (16, 16, 3), path
    means.append(round(float(frame.mean())))
  capture.release()
  return means


@pytest.mark.parametrize('name', ['affwild2', 'ravdess'])
def test_videos_decode_to_the_same_frames(name, generated):
  new, old = generated / name / 'dummy_data', BUILDERS / name / 'dummy_data'
  videos = [r for r in relative_files(old) if r.endswith(VIDEO_SUFFIXES)]
  assert videos
  for rel in videos:
    frames = decoded_frames(old / rel)
    assert frames, rel
    assert decoded_frames(new / rel) == frames, rel


def test_datasets_option_writes_only_those(tmp_path):
  make_dummy_data.main(['--out', str(tmp_path), '--datasets', 'ferv39k'])
  assert [p.name for p in tmp_path.iterdir()] == ['ferv39k']
