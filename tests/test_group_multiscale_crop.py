"""MAE-DFER's pre-training crop (`augment.crop='group_multiscale'`) against
sunlicai/MAE-DFER transforms.py `GroupMultiScaleCrop`: its windows'
distribution, enumerated here from the transform's rules, and PIL's pixels.
"""

import collections

import numpy as np
from PIL import Image
from scipy import stats
import tensorflow as tf

from audfer_jax.data import augment
from audfer_jax.data import input_pipeline
from configs import pretrain_mae_dfer

SCALES = (1, 0.875, 0.75, 0.66)


def _upstream_probabilities(image_w, image_h, size):
  """{(w, h, x, y): probability} of `GroupMultiScaleCrop(size, SCALES)`'s
  window (max_distort 1, fix_crop, more_fix_crop) in an image_w x image_h
  image: `random.choice` of a (w, h) pair, then of one of 13 offsets."""
  sides = [int(min(image_w, image_h) * s) for s in SCALES]
  sides = [size if abs(s - size) < 3 else s for s in sides]
  pairs = [
    (sides[j], sides[i]) for i in range(4) for j in range(4) if abs(i - j) <= 1
  ]
  probabilities = collections.Counter()
  for w, h in pairs:
    a, b = (image_w - w) // 4, (image_h - h) // 4
    corners = [(0, 0), (4 * a, 0), (0, 4 * b), (4 * a, 4 * b), (2 * a, 2 * b)]
    middles = [(0, 2 * b), (4 * a, 2 * b), (2 * a, 4 * b), (2 * a, 0)]
    quarters = [(a, b), (3 * a, b), (a, 3 * b), (3 * a, 3 * b)]
    for x, y in corners + middles + quarters:
      probabilities[w, h, x, y] += 1 / (len(pairs) * 13)
  return probabilities


@tf.function
def _windows(seeds, image_shape, size):
  def one(seed):
    begin, crop = augment.multiscale_crop_window(
      image_shape, seed, size, SCALES
    )
    return tf.stack([crop[1], crop[0], begin[1], begin[0]])

  return tf.map_fn(one, seeds, fn_output_signature=tf.int32)


def _drawn(n, image_h, image_w, size):
  seeds = tf.random.stateless_uniform([n, 2], [3, 4], 0, 2**30, tf.int32)
  shape = tf.constant([image_h, image_w, 3])
  return collections.Counter(map(tuple, _windows(seeds, shape, size).numpy()))


def test_windows_follow_the_upstream_distribution():
  # 182 x 240: the 0.875 side (159) becomes the model's 160; 10 pairs of 13
  # offsets, some the same (no free height in a full-height window).
  expected = _upstream_probabilities(240, 182, 160)
  n = 4000
  drawn = _drawn(n, 182, 240, 160)
  assert set(drawn) == set(expected)
  keys = sorted(expected)
  _, p = stats.chisquare(
    [drawn[k] for k in keys], [n * expected[k] for k in keys]
  )
  assert p > 1e-3, p
  # A 159-px short side: the full-side window becomes 160 and starts at
  # negative offsets, as upstream; repeated offsets add up.
  expected = _upstream_probabilities(159, 200, 160)
  assert min(x for _, _, x, _ in expected) < 0
  assert set(_drawn(800, 200, 159, 160)) == set(expected)


def _frames(n, h, w):
  """Smooth random frames (a resized noise field, as natural images vary
  from pixel to pixel far less than noise) as uint8."""
  noise = np.random.default_rng(0).uniform(0, 255, (n, h // 4, w // 4, 3))
  return np.round(tf.image.resize(noise, [h, w]).numpy()).astype(np.uint8)


def test_crop_and_resize_match_pil():
  aug = pretrain_mae_dfer.get_config().augment
  # Shrinking crops (50 -> 32: PIL's filter widens, tf's antialias) and a
  # window past a 31-px frame's edge (PIL's crop fills it black).
  for h, w, negative in [(50, 60, False), (31, 40, True)]:
    video = _frames(3, h, w)
    for seed in range(100):
      s = augment.split_seed(tf.constant([7, seed]), 6)
      begin, crop = augment.multiscale_crop_window([h, w, 3], s[2], 32, SCALES)
      y, x, ch, cw = (int(v) for v in (begin[0], begin[1], crop[0], crop[1]))
      if (min(x, y) < 0) == negative and max(ch, cw) > 32 - negative:
        break
    assert (min(x, y) < 0) == negative and max(ch, cw) > 32 - negative
    got = input_pipeline._augment_frames(
      tf.constant(video, tf.float32), s, 32, aug
    ).numpy()
    for frame, out in zip(video, got, strict=True):
      want = Image.fromarray(frame).crop((x, y, x + cw, y + ch))
      want = np.asarray(want.resize((32, 32), Image.BILINEAR), np.float32)
      # PIL rounds to uint8 after each of its two passes.
      np.testing.assert_allclose(out, want, atol=1.01)
      assert np.abs(out - want).mean() < 0.4
