"""Spatial augmentation of clips (tf, in graph) and batch mixup/cutmix (np).

Every clip-level op draws its parameters once per clip from a stateless
seed, so all frames get the same crop, flip and colour change (the
reference "Group" transforms) and a run is reproducible.

RandAugment has timm's level mappings and probability 0.5 per op. The clean
variant draws from 13 of timm's 15 `rand-inc1` ops (AutoContrast, Invert,
Rotate, Posterize, Solarize, SolarizeAdd, Color, Contrast, Brightness,
ShearX, ShearY, TranslateX, TranslateY), with clip-wide statistics and the
ImageNet-mean fill; `upstream=True` is MAE-DFER's (timm `rand_augment.py`
on a list of PIL frames): all 15 (Equalize and Sharpness added), frames
rounded to uint8 levels first, AutoContrast, Equalize and Contrast per
frame as PIL, fill (128, 128, 128), and PIL's bicubic filter for Rotate,
Shear and Translate (MAE-DFER's `--train_interpolation bicubic`); the
clean variant interpolates bilinearly.
"""

import math

import numpy as np
import tensorflow as tf

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_FILL = [round(255 * m) for m in IMAGENET_MEAN]
# timm rand_augment.py `_FILL`: MAE-DFER passes no `img_mean`.
UPSTREAM_FILL = (128, 128, 128)


def split_seed(seed, n):
  """`n` independent stateless seeds derived from `seed`."""
  return tf.unstack(tf.random.experimental.stateless_split(seed, n))


def crop_window(image_shape, seed, area, aspect):
  """(begin [y, x, 0], size [h, w, -1]) of an Inception crop of an image
  of `image_shape` [H, W, C] (area and aspect ranges)."""
  begin, crop, _ = tf.image.stateless_sample_distorted_bounding_box(
    image_shape,
    tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
    seed=seed,
    min_object_covered=0.0,
    aspect_ratio_range=aspect,
    area_range=area,
    max_attempts=10,
    use_image_if_no_bounding_boxes=True,
  )
  return begin, crop


def random_resized_crop(video, size, seed, area, aspect):
  """Inception crop (area and aspect ranges) resized to `size` x `size`."""
  begin, crop = crop_window(tf.shape(video)[1:4], seed, area, aspect)
  return tf.image.resize(crop_padded(video, begin, crop), [size, size])


# sunlicai/MAE-DFER transforms.py `GroupMultiScaleCrop.fill_fix_offset`
# with more_fix_crop=True: 13 (x, y) offsets in steps of a quarter of the
# free width and height (corners, centre, edge middles, quarter points).
FIX_OFFSETS = (
  (0, 0), (4, 0), (0, 4), (4, 4), (2, 2), (0, 2), (4, 2), (2, 4), (2, 0),
  (1, 1), (3, 1), (1, 3), (3, 3),
)  # fmt: skip


def multiscale_crop_window(image_shape, seed, size, scales, max_distort=1):
  """(begin [y, x, 0], size [h, w, -1]) of sunlicai/MAE-DFER transforms.py
  `GroupMultiScaleCrop(size, scales)`'s window (fix_crop, more_fix_crop) in
  an image of `image_shape` [H, W, C].

  As its `_sample_crop_size`: the sides are int(short side x scale), each
  within 2 px of `size` made `size`; (height i, width j) is uniform among
  the index pairs with |i - j| <= max_distort, the offset uniform among
  `FIX_OFFSETS` times ((W - w) // 4, (H - h) // 4). A short side of size - 2
  or size - 1 px gives a window past the frame at negative offsets, as
  there (`crop_padded` fills that black, as PIL's crop).
  """
  h, w = image_shape[0], image_shape[1]
  # int() of Python's float64 product: truncation of the same double.
  base = tf.cast(tf.minimum(h, w), tf.float64)
  sides = tf.cast(base * tf.constant(scales, tf.float64), tf.int32)
  sides = tf.where(tf.abs(sides - size) < 3, size, sides)
  n = len(scales)
  pairs = [
    (i, j) for i in range(n) for j in range(n) if abs(i - j) <= max_distort
  ]
  s_pair, s_offset = split_seed(seed, 2)
  k = tf.random.stateless_uniform([], s_pair, 0, len(pairs), tf.int32)
  crop_h, crop_w = tf.unstack(tf.gather(sides, tf.gather(pairs, k)))
  o = tf.random.stateless_uniform([], s_offset, 0, len(FIX_OFFSETS), tf.int32)
  qx, qy = tf.unstack(tf.gather(FIX_OFFSETS, o))
  begin = tf.stack([qy * ((h - crop_h) // 4), qx * ((w - crop_w) // 4), 0])
  return begin, tf.stack([crop_h, crop_w, -1])


def crop_padded(video, begin, crop):
  """The window (begin [y, x, 0], size [h, w, -1]) of `video` [T, H, W, C],
  zeros where it passes the frame's edges (PIL's `crop`)."""
  shape = tf.shape(video)
  y0, x0 = tf.maximum(begin[0], 0), tf.maximum(begin[1], 0)
  y1 = tf.minimum(begin[0] + crop[0], shape[1])
  x1 = tf.minimum(begin[1] + crop[1], shape[2])
  pad = [
    [0, 0],
    [y0 - begin[0], begin[0] + crop[0] - y1],
    [x0 - begin[1], begin[1] + crop[1] - x1],
    [0, 0],
  ]
  return tf.pad(video[:, y0:y1, x0:x1], pad)


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


def _affine(video, matrix, fill=_FILL, bicubic=False):
  """Maps every frame through the affine `matrix` [a0, a1, a2, b0, b1, b2]
  as PIL's `Image.transform(AFFINE)`: output pixel (x, y) samples the input
  at (a0 u + a1 v + a2, b0 u + b1 v + b2), u = x + 1/2, v = y + 1/2 (pixel
  centres at half integers); where that falls outside the frame, `fill` (an
  RGB colour). Bilinear, or PIL's bicubic (`_bicubic`)."""
  if bicubic:
    return _bicubic(video, matrix, fill)
  # TF's transform puts pixel centres at integers: the same map, shifted.
  a = tf.unstack(matrix)
  shifted = tf.stack(
    [
      a[0], a[1], a[2] + (a[0] + a[1] - 1) / 2,
      a[3], a[4], a[5] + (a[3] + a[4] - 1) / 2,
    ]
  )  # fmt: skip
  transform = tf.concat([shifted, tf.zeros([2])], 0)[None]
  shape = tf.shape(video)
  out = tf.raw_ops.ImageProjectiveTransformV3(
    images=video,
    transforms=tf.tile(transform, [shape[0], 1]),
    output_shape=shape[1:3],
    fill_value=0.0,
    interpolation='BILINEAR',
    fill_mode='CONSTANT',
  )
  # Fill outside the image with `fill` (an RGB colour).
  ones = tf.raw_ops.ImageProjectiveTransformV3(
    images=tf.ones_like(video[:1, ..., :1]),
    transforms=transform,
    output_shape=shape[1:3],
    fill_value=0.0,
    interpolation='NEAREST',
    fill_mode='CONSTANT',
  )
  return out + (1.0 - ones) * tf.constant(fill, tf.float32)


def cubic_weights(d):
  """PIL's bicubic weights (cubic convolution with a = -1, PIL's
  `Geometry.c`) of the samples at -1, 0, 1, 2 from a point `d` in [0, 1)
  past the second one: arithmetic only, so TensorFlow and JAX share it."""
  return [
    -d * (1 - d) ** 2,
    1 - 2 * d**2 + d**3,
    d * (1 + d - d**2),
    d**2 * (d - 1),
  ]


def _bicubic(video, matrix, fill):
  """`_affine` with PIL's bicubic filter (what timm's RandAugment asks for
  with `interpolation=bicubic`; TF's projective transform has only nearest
  and bilinear): a pixel whose source point lies in the frame mixes the
  4 x 4 nearest pixels (edges repeated), clipped to [0, 255]; the others
  get `fill`. PIL then truncates to uint8; this keeps floats."""
  shape = tf.shape(video)
  t, h, w = shape[0], shape[1], shape[2]
  hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
  v, u = tf.meshgrid(
    tf.range(hf) + 0.5, tf.range(wf) + 0.5, indexing='ij'
  )  # [H, W] each
  a = tf.unstack(matrix)
  x = a[0] * u + a[1] * v + a[2]
  y = a[3] * u + a[4] * v + a[5]
  inside = (x >= 0) & (x < wf) & (y >= 0) & (y < hf)
  # Sample k of a point p (centres at half integers) is pixel floor(p - 1/2)
  # - 1 + k, k = 0..3.
  x0, y0 = tf.floor(x - 0.5), tf.floor(y - 0.5)
  wx, wy = cubic_weights(x - 0.5 - x0), cubic_weights(y - 0.5 - y0)
  x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
  # One row per pixel holding all frames and channels: every frame samples
  # the same points, so each gather moves T x 3 contiguous values.
  flat = tf.reshape(tf.transpose(video, [1, 2, 0, 3]), [h * w, -1])
  out = 0.0
  for j in range(4):
    row = tf.clip_by_value(y0 - 1 + j, 0, h - 1) * w
    line = 0.0
    for i in range(4):
      pixel = row + tf.clip_by_value(x0 - 1 + i, 0, w - 1)
      line += wx[i][..., None] * tf.gather(flat, pixel)
    out += wy[j][..., None] * line
  out = tf.clip_by_value(tf.reshape(out, [h, w, t, -1]), 0.0, 255.0)
  out = tf.where(inside[..., None, None], out, tf.constant(fill, tf.float32))
  return tf.transpose(out, [2, 0, 1, 3])


def _rotate(video, level, fill=_FILL, bicubic=False):
  """PIL `rotate(30 level degrees)` about the frame's centre."""
  h = tf.cast(tf.shape(video)[1], tf.float32)
  w = tf.cast(tf.shape(video)[2], tf.float32)
  t = level * 30.0 * math.pi / 180.0
  cx, cy = w / 2, h / 2
  c, s = tf.cos(t), tf.sin(t)
  return _affine(
    video,
    tf.stack([c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy]),
    fill,
    bicubic,
  )


def _shear(video, level, axis, fill=_FILL, bicubic=False):
  k = level * 0.3
  m = [1.0, k, 0.0, 0.0, 1.0, 0.0] if axis == 0 else [1, 0, 0, k, 1, 0]
  return _affine(video, tf.cast(tf.stack(m), tf.float32), fill, bicubic)


def _translate(video, level, axis, fill=_FILL, bicubic=False):
  size = tf.cast(tf.shape(video)[2 - axis], tf.float32)
  d = level * 0.45 * size
  m = [1.0, 0.0, d, 0.0, 1.0, 0.0] if axis == 0 else [1, 0, 0, 0, 1, d]
  return _affine(video, tf.cast(tf.stack(m), tf.float32), fill, bicubic)


def _autocontrast(video):
  lo = tf.reduce_min(video, [0, 1, 2], keepdims=True)
  hi = tf.reduce_max(video, [0, 1, 2], keepdims=True)
  scale = tf.where(hi > lo, 255.0 / tf.maximum(hi - lo, 1e-3), 1.0)
  return tf.where(hi > lo, (video - lo) * scale, video)


def _autocontrast_frames(video):
  """PIL `ImageOps.autocontrast` per frame and channel (integer levels)."""
  # In float64, as PIL's Python: `int(ix * scale + offset)` can land just
  # below an integer.
  v = tf.cast(video, tf.float64)
  lo = tf.reduce_min(v, [1, 2], keepdims=True)
  hi = tf.reduce_max(v, [1, 2], keepdims=True)
  scale = 255.0 / tf.maximum(hi - lo, 1.0)
  out = tf.clip_by_value(tf.floor(v * scale + -lo * scale), 0.0, 255.0)
  return tf.cast(tf.where(hi > lo, out, v), tf.float32)


def _equalize_frames(video):
  """PIL `ImageOps.equalize` per frame and channel (integer levels)."""
  shape = tf.shape(video)
  levels = tf.cast(tf.clip_by_value(video, 0.0, 255.0), tf.int32)
  flat = tf.reshape(tf.transpose(levels, [0, 3, 1, 2]), [shape[0] * 3, -1])
  hist = tf.math.bincount(
    flat, minlength=256, maxlength=256, axis=-1, dtype=tf.int32
  )
  # The count of the highest level present, PIL's `histo[-1]`.
  top = tf.reduce_max(tf.where(hist > 0, tf.range(256)[None], -1), 1)
  last = tf.gather(hist, top, batch_dims=1)
  step = (tf.reduce_sum(hist, 1) - last) // 255
  below = tf.cumsum(hist, 1, exclusive=True)
  lut = (step[:, None] // 2 + below) // tf.maximum(step[:, None], 1)
  lut = tf.minimum(lut, 255)
  identity = tf.logical_or(
    tf.reduce_sum(tf.cast(hist > 0, tf.int32), 1) <= 1, step == 0
  )
  lut = tf.where(identity[:, None], tf.range(256)[None], lut)
  out = tf.gather(lut, flat, batch_dims=1)
  out = tf.transpose(
    tf.reshape(out, tf.gather(shape, [0, 3, 1, 2])), [0, 2, 3, 1]
  )
  return tf.cast(out, tf.float32)


def _smooth_frames(video):
  """PIL `ImageFilter.SMOOTH` (3 x 3, centre 5, /13), borders kept."""
  kernel = tf.constant([[1, 1, 1], [1, 5, 1], [1, 1, 1]], tf.float32) / 13
  kernel = tf.tile(kernel[:, :, None, None], [1, 1, 3, 1])
  inner = tf.nn.depthwise_conv2d(video, kernel, [1, 1, 1, 1], 'VALID')
  inner = tf.clip_by_value(tf.round(inner), 0.0, 255.0)
  padded = tf.pad(inner, [[0, 0], [1, 1], [1, 1], [0, 0]])
  shape = tf.shape(video)
  mask = tf.pad(
    tf.ones([shape[1] - 2, shape[2] - 2, 1]), [[1, 1], [1, 1], [0, 0]]
  )
  return padded * mask + video * (1.0 - mask)


def _posterize(video, m):
  bits = 4 - tf.cast(m / 10 * 4, tf.int32)
  shift = tf.cast(8 - bits, tf.float32)
  return tf.floor(tf.floor(video) / 2.0**shift) * 2.0**shift


def _solarize(video, threshold):
  return tf.where(video >= threshold, 255.0 - video, video)


def _solarize_add(video, m):
  added = tf.clip_by_value(video + tf.floor(m / 10 * 110), 0.0, 255.0)
  return tf.where(video < 128.0, added, video)


# The RandAugment ops of the upstream variant, in timm's `inc1` order
# (`rand_ops`; the clean variant drops Equalize and Sharpness).
UPSTREAM_OPS = (
  'AutoContrast', 'Equalize', 'Invert', 'Rotate', 'Posterize', 'Solarize',
  'SolarizeAdd', 'Color', 'Contrast', 'Brightness', 'Sharpness', 'ShearX',
  'ShearY', 'TranslateX', 'TranslateY',
)  # fmt: skip


def rand_ops(video, m, level, factor, upstream=False):
  """The RandAugment ops on `video` as thunks, in timm's `inc1` order.

  Args:
    video: [T, H, W, 3] float in [0, 255].
    m: the magnitude (0..10) after its noise.
    level: the signed level (+-m / 10) of the ops with a direction.
    factor: the enhance factor 1 + 0.9 level (Color, Contrast, ...).
    upstream: timm's 15 ops as MAE-DFER (per-frame statistics, fill 128,
      bicubic); False: the 13 clean ops (clip statistics, ImageNet-mean
      fill, bilinear).

  Returns:
    A dict name -> thunk, 15 or 13 entries.
  """
  fill = UPSTREAM_FILL if upstream else _FILL
  gray = _gray(video)
  ops = {
    'AutoContrast': lambda: (
      _autocontrast_frames(video) if upstream else _autocontrast(video)
    ),
    'Equalize': lambda: _equalize_frames(video),
    'Invert': lambda: 255.0 - video,
    'Rotate': lambda: _rotate(video, level, fill, upstream),
    'Posterize': lambda: _posterize(video, m),
    'Solarize': lambda: _solarize(video, 256.0 - tf.floor(m / 10 * 256)),
    'SolarizeAdd': lambda: _solarize_add(video, m),
    'Color': lambda: _blend(video, gray, factor),
    'Contrast': lambda: _blend(
      video,
      tf.round(tf.reduce_mean(gray, [1, 2, 3], keepdims=True))
      if upstream
      else tf.reduce_mean(gray),
      factor,
    ),
    'Brightness': lambda: _blend(video, 0.0, factor),
    'Sharpness': lambda: _blend(video, _smooth_frames(video), factor),
    'ShearX': lambda: _shear(video, level, 0, fill, upstream),
    'ShearY': lambda: _shear(video, level, 1, fill, upstream),
    'TranslateX': lambda: _translate(video, level, 0, fill, upstream),
    'TranslateY': lambda: _translate(video, level, 1, fill, upstream),
  }
  if not upstream:
    del ops['Equalize'], ops['Sharpness']
  return ops


def _random_op(video, magnitude, magnitude_std, seed, upstream=False):
  """One RandAugment op, chosen uniformly and applied with probability 0.5."""
  s_op, s_p, s_m, s_sign = split_seed(seed, 4)
  m = magnitude + magnitude_std * tf.random.stateless_normal([], s_m)
  m = tf.clip_by_value(m, 0.0, 10.0)
  sign = tf.where(tf.random.stateless_uniform([], s_sign) < 0.5, -1.0, 1.0)
  level = sign * m / 10
  factor = 1.0 + level * 0.9
  ops = rand_ops(video, m, level, factor, upstream)
  index = tf.random.stateless_uniform([], s_op, 0, len(ops), tf.int32)
  applied = tf.switch_case(index, list(ops.values()))
  return tf.where(tf.random.stateless_uniform([], s_p) < 0.5, applied, video)


def randaugment(video, num_ops, magnitude, magnitude_std, seed, upstream=False):
  """timm RandAugment `rand-m{magnitude}-n{num_ops}-mstd{std}-inc1`.

  Args:
    video: [T, H, W, 3] float in [0, 255].
    num_ops: ops applied in sequence, each chosen uniformly.
    magnitude: mean magnitude (0..10).
    magnitude_std: per-op Gaussian noise on the magnitude.
    seed: stateless seed [2].
    upstream: MAE-DFER's variant (module docstring); False: the clean one.

  Returns:
    The augmented clip, same shape, in [0, 255].
  """
  if upstream:  # PIL frames are uint8
    video = tf.round(tf.clip_by_value(video, 0.0, 255.0))
  for s in split_seed(seed, num_ops):
    video = _random_op(video, magnitude, magnitude_std, s, upstream)
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


def pixel_stats(mode):
  """(mean, std) per channel, of [0, 1] pixels, that `config.normalize`
  mode ('unit' or 'imagenet') takes away."""
  if mode == 'unit':
    return (0.0,) * 3, (1.0,) * 3
  if mode == 'imagenet':
    return IMAGENET_MEAN, IMAGENET_STD
  raise ValueError(f'config.normalize: unknown mode {mode!r}.')


def normalize(video, mode):
  """[0, 255] floats -> /255 ('unit') or ImageNet mean/std ('imagenet')."""
  mean, std = pixel_stats(mode)
  video = video / 255.0
  return video if mode == 'unit' else (video - mean) / std


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
