"""Spatial augmentation of clips (tf, in graph) and batch mixup/cutmix (np).

Every clip-level op draws its parameters once per clip from a stateless
seed, so all frames get the same crop, flip and colour change (the
reference "Group" transforms) and a run is reproducible.

RandAugment implements 13 of timm's 15 `rand-inc1` ops with timm's level
mappings and probability 0.5 per op: AutoContrast, Invert, Rotate,
Posterize, Solarize, SolarizeAdd, Color, Contrast, Brightness, ShearX,
ShearY, TranslateX, TranslateY. Equalize and Sharpness are left out.
"""

import math

import numpy as np
import tensorflow as tf

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_FILL = [round(255 * m) for m in IMAGENET_MEAN]


def split_seed(seed, n):
  """`n` independent stateless seeds derived from `seed`."""
  return tf.unstack(tf.random.experimental.stateless_split(seed, n))


def random_resized_crop(video, size, seed, area, aspect):
  """Inception crop (area and aspect ranges) resized to `size` x `size`."""
  shape = tf.shape(video)
  begin, crop, _ = tf.image.stateless_sample_distorted_bounding_box(
    shape[1:4],
    tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
    seed=seed,
    min_object_covered=0.0,
    aspect_ratio_range=aspect,
    area_range=area,
    max_attempts=10,
    use_image_if_no_bounding_boxes=True,
  )
  video = tf.slice(
    video, tf.concat([[0], begin], 0), tf.concat([[shape[0]], crop], 0)
  )
  return tf.image.resize(video, [size, size])


def random_flip(video, seed):
  flip = tf.random.stateless_uniform([], seed) < 0.5
  return tf.cond(flip, lambda: tf.reverse(video, [2]), lambda: video)


def _gray(video):
  return tf.reduce_sum(video * [0.299, 0.587, 0.114], -1, keepdims=True)


def _blend(a, b, factor):
  """PIL ImageEnhance: b + factor * (a - b), clipped to [0, 255]."""
  return tf.clip_by_value(b + factor * (a - b), 0.0, 255.0)


def color_jitter(video, strength, seed):
  """torchvision ColorJitter(b = c = s = h = strength) on [0, 255] floats.

  The factors are drawn as in torchvision; the four ops run in a fixed order
  (brightness, contrast, saturation, hue) instead of a random one.
  """
  s = split_seed(seed, 4)
  lo, hi = max(0.0, 1 - strength), 1 + strength
  u = [tf.random.stateless_uniform([], s[i], lo, hi) for i in range(3)]
  video = _blend(video, 0.0, u[0])
  video = _blend(video, tf.reduce_mean(_gray(video)), u[1])
  video = _blend(video, _gray(video), u[2])
  hue = tf.random.stateless_uniform([], s[3], -min(strength, 0.5), strength)
  return tf.image.adjust_hue(video / 255.0, hue) * 255.0


def _affine(video, matrix):
  """Applies an output -> input affine map [a0, a1, a2, b0, b1, b2]."""
  transform = tf.concat([matrix, tf.zeros([2])], 0)[None]
  shape = tf.shape(video)
  out = tf.raw_ops.ImageProjectiveTransformV3(
    images=video,
    transforms=tf.tile(transform, [shape[0], 1]),
    output_shape=shape[1:3],
    fill_value=0.0,
    interpolation='BILINEAR',
    fill_mode='CONSTANT',
  )
  # Fill outside the image with the ImageNet mean colour (timm's fill).
  ones = tf.raw_ops.ImageProjectiveTransformV3(
    images=tf.ones_like(video[:1, ..., :1]),
    transforms=transform,
    output_shape=shape[1:3],
    fill_value=0.0,
    interpolation='NEAREST',
    fill_mode='CONSTANT',
  )
  return out + (1.0 - ones) * tf.constant(_FILL, tf.float32)


def _rotate(video, level):
  h = tf.cast(tf.shape(video)[1], tf.float32)
  w = tf.cast(tf.shape(video)[2], tf.float32)
  t = level * 30.0 * math.pi / 180.0
  cx, cy = (w - 1) / 2, (h - 1) / 2
  c, s = tf.cos(t), tf.sin(t)
  return _affine(
    video, tf.stack([c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy])
  )


def _shear(video, level, axis):
  k = level * 0.3
  m = [1.0, k, 0.0, 0.0, 1.0, 0.0] if axis == 0 else [1, 0, 0, k, 1, 0]
  return _affine(video, tf.cast(tf.stack(m), tf.float32))


def _translate(video, level, axis):
  size = tf.cast(tf.shape(video)[2 - axis], tf.float32)
  d = level * 0.45 * size
  m = [1.0, 0.0, d, 0.0, 1.0, 0.0] if axis == 0 else [1, 0, 0, 0, 1, d]
  return _affine(video, tf.cast(tf.stack(m), tf.float32))


def _autocontrast(video):
  lo = tf.reduce_min(video, [0, 1, 2], keepdims=True)
  hi = tf.reduce_max(video, [0, 1, 2], keepdims=True)
  scale = tf.where(hi > lo, 255.0 / tf.maximum(hi - lo, 1e-3), 1.0)
  return tf.where(hi > lo, (video - lo) * scale, video)


def _posterize(video, m):
  bits = 4 - tf.cast(m / 10 * 4, tf.int32)
  shift = tf.cast(8 - bits, tf.float32)
  return tf.floor(tf.floor(video) / 2.0**shift) * 2.0**shift


def _solarize(video, threshold):
  return tf.where(video >= threshold, 255.0 - video, video)


def _solarize_add(video, m):
  added = tf.clip_by_value(video + tf.floor(m / 10 * 110), 0.0, 255.0)
  return tf.where(video < 128.0, added, video)


def _random_op(video, magnitude, magnitude_std, seed):
  """One RandAugment op, chosen uniformly and applied with probability 0.5."""
  s_op, s_p, s_m, s_sign = split_seed(seed, 4)
  m = magnitude + magnitude_std * tf.random.stateless_normal([], s_m)
  m = tf.clip_by_value(m, 0.0, 10.0)
  sign = tf.where(tf.random.stateless_uniform([], s_sign) < 0.5, -1.0, 1.0)
  level = sign * m / 10
  factor = 1.0 + level * 0.9
  ops = [
    lambda: _autocontrast(video),
    lambda: 255.0 - video,
    lambda: _rotate(video, level),
    lambda: _posterize(video, m),
    lambda: _solarize(video, 256.0 - tf.floor(m / 10 * 256)),
    lambda: _solarize_add(video, m),
    lambda: _blend(video, _gray(video), factor),
    lambda: _blend(video, tf.reduce_mean(_gray(video)), factor),
    lambda: _blend(video, 0.0, factor),
    lambda: _shear(video, level, 0),
    lambda: _shear(video, level, 1),
    lambda: _translate(video, level, 0),
    lambda: _translate(video, level, 1),
  ]
  index = tf.random.stateless_uniform([], s_op, 0, len(ops), tf.int32)
  applied = tf.switch_case(index, ops)
  return tf.where(tf.random.stateless_uniform([], s_p) < 0.5, applied, video)


def randaugment(video, num_ops, magnitude, magnitude_std, seed):
  """timm RandAugment `rand-m{magnitude}-n{num_ops}-mstd{std}-inc1`.

  Args:
    video: [T, H, W, 3] float in [0, 255].
    num_ops: ops applied in sequence, each chosen uniformly.
    magnitude: mean magnitude (0..10).
    magnitude_std: per-op Gaussian noise on the magnitude.
    seed: stateless seed [2].

  Returns:
    The augmented clip, same shape, in [0, 255].
  """
  for s in split_seed(seed, num_ops):
    video = _random_op(video, magnitude, magnitude_std, s)
  return video


def random_erasing(video, probability, seed):
  """timm RandomErasing (pixel mode, one box, same box for every frame).

  The box covers 2%..1/3 of the area with log-uniform aspect 0.3..3.3 and is
  filled with N(0, 1) noise (the clip is already normalised).
  """
  s = split_seed(seed, 6)
  shape = tf.shape(video)
  h, w = shape[1], shape[2]
  area = tf.cast(h * w, tf.float32) * tf.random.stateless_uniform(
    [], s[0], 0.02, 1 / 3
  )
  log_r = tf.random.stateless_uniform(
    [], s[1], math.log(0.3), math.log(1 / 0.3)
  )
  r = tf.exp(log_r)
  eh = tf.minimum(tf.cast(tf.round(tf.sqrt(area * r)), tf.int32), h)
  ew = tf.minimum(tf.cast(tf.round(tf.sqrt(area / r)), tf.int32), w)
  top = tf.random.stateless_uniform([], s[2], 0, h - eh + 1, tf.int32)
  left = tf.random.stateless_uniform([], s[3], 0, w - ew + 1, tf.int32)
  rows = tf.range(h)[:, None]
  cols = tf.range(w)[None, :]
  box = (rows >= top) & (rows < top + eh) & (cols >= left) & (cols < left + ew)
  noise = tf.random.stateless_normal(tf.shape(video), s[4])
  erase = tf.random.stateless_uniform([], s[5]) < probability
  return tf.where(erase & box[None, :, :, None], noise, video)


def normalize(video, mode):
  """[0, 255] floats -> /255 ('unit') or ImageNet mean/std ('imagenet')."""
  video = video / 255.0
  if mode == 'unit':
    return video
  if mode == 'imagenet':
    return (video - IMAGENET_MEAN) / IMAGENET_STD
  raise ValueError(f'config.normalize: unknown mode {mode!r}.')


def mix_batch(video, label, num_classes, rng, mixup, cutmix, switch_prob, ls):
  """timm Mixup (batch mode, prob 1) on a host batch.

  Each clip is mixed with the clip at the mirrored batch position, by mixup
  (alpha `mixup`) or, with probability `switch_prob` when both are on, by
  cutmix (alpha `cutmix`, the same box in every frame).

  Args:
    video: [B, T, H, W, 3] float.
    label: [B] int labels.
    num_classes: C.
    rng: a `np.random.Generator`.
    mixup: mixup alpha (0: off).
    cutmix: cutmix alpha (0: off).
    switch_prob: probability of cutmix when both are on.
    ls: label smoothing folded into the soft targets.

  Returns:
    (mixed video, soft targets [B, C] float32).
  """
  use_cutmix = cutmix > 0 and (mixup <= 0 or rng.random() < switch_prob)
  lam = float(
    rng.beta(cutmix, cutmix) if use_cutmix else rng.beta(mixup, mixup)
  )
  flipped = video[::-1]
  if use_cutmix:
    h, w = video.shape[2:4]
    ratio = math.sqrt(1 - lam)
    ch, cw = int(h * ratio), int(w * ratio)
    cy, cx = rng.integers(h), rng.integers(w)
    y0, y1 = np.clip([cy - ch // 2, cy + ch // 2], 0, h)
    x0, x1 = np.clip([cx - cw // 2, cx + cw // 2], 0, w)
    video = video.copy()
    video[:, :, y0:y1, x0:x1] = flipped[:, :, y0:y1, x0:x1]
    lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)
  else:
    video = video * lam + flipped * (1 - lam)
  off = ls / num_classes
  onehot = np.full((len(label), num_classes), off, np.float32)
  onehot[np.arange(len(label)), label] = 1 - ls + off
  return video.astype(np.float32), lam * onehot + (1 - lam) * onehot[::-1]
