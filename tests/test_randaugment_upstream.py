"""MAE-DFER's RandAugment variant (timm `rand_augment.py` on PIL frames)
against PIL itself, the independent computation: per-frame AutoContrast,
Equalize, Contrast, Sharpness; Rotate, Shear and Translate with PIL's
bicubic filter; fill 128; 15 ops; the clean variant keeps its 13 ops."""

import numpy as np
from PIL import Image
from PIL import ImageEnhance
from PIL import ImageOps
import pytest
import tensorflow as tf

from audfer_jax.data import augment

RNG = np.random.default_rng(0)


def _clip(t=3, h=20, w=24):
  """uint8 frames with different ranges per frame and channel."""
  frames = []
  for i in range(t):
    lo, hi = 10 * i + 5, 200 - 20 * i
    frames.append(RNG.integers(lo, hi, (h, w, 3)))
  return np.stack(frames).astype(np.uint8)


def _ops(video, m=7.0, sign=1.0, upstream=True):
  level = sign * m / 10
  return augment.rand_ops(
    tf.constant(video, tf.float32),
    tf.constant(m),
    tf.constant(level),
    tf.constant(1 + 0.9 * level),
    upstream,
  )


def _pil(video, fn):
  return np.stack([np.asarray(fn(Image.fromarray(f))) for f in video])


def test_op_lists():
  video = _clip()
  upstream = list(_ops(video))
  assert upstream == [
    'AutoContrast', 'Equalize', 'Invert', 'Rotate', 'Posterize', 'Solarize',
    'SolarizeAdd', 'Color', 'Contrast', 'Brightness', 'Sharpness', 'ShearX',
    'ShearY', 'TranslateX', 'TranslateY',
  ]  # fmt: skip
  clean = list(_ops(video, upstream=False))
  assert clean == [n for n in upstream if n not in ('Equalize', 'Sharpness')]


@pytest.mark.parametrize(
  'name, pil',
  [
    ('AutoContrast', ImageOps.autocontrast),
    ('Equalize', ImageOps.equalize),
  ],
)
def test_per_frame_ops_equal_pil(name, pil):
  video = _clip()
  ours = _ops(video)[name]().numpy()
  np.testing.assert_array_equal(ours, _pil(video, pil))
  # A constant frame and a two-level frame (PIL's identity cases).
  video[1] = 77
  video[2, ..., 0] = np.where(RNG.random(video.shape[1:3]) < 0.5, 3, 250)
  ours = _ops(video)[name]().numpy()
  np.testing.assert_array_equal(ours, _pil(video, pil))


@pytest.mark.parametrize('sign', [1.0, -1.0])
def test_contrast_and_sharpness_match_pil(sign):
  video = _clip()
  factor = 1 + 0.9 * sign * 0.7
  ops = _ops(video, sign=sign)
  for name, enhance in (
    ('Contrast', ImageEnhance.Contrast),
    ('Sharpness', ImageEnhance.Sharpness),
  ):
    ours = ops[name]().numpy()
    ref = _pil(video, lambda im, e=enhance: e(im).enhance(factor))
    # PIL rounds its grey image and its blend to uint8; we keep floats.
    np.testing.assert_allclose(ours, ref, atol=1.5, err_msg=name)


# timm's geometric ops as `rand_augment.py` calls PIL, at level +-0.7
# (magnitude 7), with MAE-DFER's `--train_interpolation bicubic`.
_BICUBIC = dict(resample=Image.BICUBIC, fillcolor=(128, 128, 128))


def _affine(matrix):
  return lambda im: im.transform(im.size, Image.AFFINE, matrix, **_BICUBIC)


@pytest.mark.parametrize('level', [0.7, -0.7])
def test_geometric_ops_equal_pil_bicubic(level):
  video = _clip(h=20, w=26)  # noise: bilinear would miss by many levels
  ops = _ops(video, sign=1.0 if level > 0 else -1.0)
  pil = {
    'Rotate': lambda im: im.rotate(30 * level, **_BICUBIC),
    'ShearX': _affine((1, 0.3 * level, 0, 0, 1, 0)),
    'ShearY': _affine((1, 0, 0, 0.3 * level, 1, 0)),
    'TranslateX': _affine((1, 0, 0.45 * level * 26, 0, 1, 0)),
    'TranslateY': _affine((1, 0, 0, 0, 1, 0.45 * level * 20)),
  }
  for name, fn in pil.items():
    ours = ops[name]().numpy()
    # PIL truncates its result to uint8; we keep the float.
    diff = ours - _pil(video, fn)
    assert -1e-3 < diff.min() and diff.max() < 1 + 1e-3, name
    assert (ours == 128).any(), name  # the filled corner or border


def test_fill_is_128_upstream_and_mean_clean():
  video = np.zeros((2, 32, 32, 3), np.uint8)
  for upstream, fill in ((True, 128), (False, augment._FILL)):
    out = _ops(video, m=10.0, upstream=upstream)['Rotate']().numpy()
    np.testing.assert_allclose(out[:, 0, 0], np.broadcast_to(fill, (2, 3)))
    out = _ops(video, m=10.0, upstream=upstream)['TranslateX']().numpy()
    np.testing.assert_allclose(out[:, 5, -1], np.broadcast_to(fill, (2, 3)))
    assert (out[:, :, 0] == 0).all()  # the part still covered


def test_randaugment_upstream_is_seeded_and_in_range():
  video = tf.constant(_clip(), tf.float32) + 0.3
  seed = tf.constant([1, 2])
  a = augment.randaugment(video, 4, 7, 0.5, seed, upstream=True).numpy()
  b = augment.randaugment(video, 4, 7, 0.5, seed, upstream=True).numpy()
  np.testing.assert_array_equal(a, b)
  assert a.min() >= 0 and a.max() <= 255
  clean = augment.randaugment(video, 4, 7, 0.5, seed).numpy()
  assert clean.shape == a.shape
