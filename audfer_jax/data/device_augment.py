"""The training augmentation of `augment.py` as jitted JAX on the device.

With `config.augment.on_device` the host only samples, decodes and resizes
the frames to a fixed square (`frame_size`), delivered as uint8; one jitted
call then applies the recipe's augmentation to the sharded global batch:
RandAugment, the random resized crop (TensorFlow's
`sample_distorted_bounding_box` algorithm), flip, colour jitter,
normalisation, random erasing and mixup/cutmix, with the parameter
distributions of the host ops (tests/test_device_augment.py compares them).

Random streams: clip i of the global batch of step s draws from
fold_in(fold_in(key(seed), s), i) (with a tag of its own), so a run is a
pure function of (seed, step) and clip i gets the same augmentation whatever
the number of devices and processes. Mixup/cutmix draws once per global
batch and pairs clip i with clip B - 1 - i of the global batch; the host
path pairs clips within each device's slice, as PyTorch DDP ranks do (the
same on one device).
"""

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp

from audfer_jax.data import augment

_TAG = 0x61756700  # 'aug': apart from the other streams of config.seed
_GRAY = jnp.array([0.299, 0.587, 0.114])
_ATTEMPTS = 10  # augment.random_resized_crop's max_attempts


@dataclasses.dataclass(frozen=True)
class Settings:
  """What the device augmentation of a run does (static under jit)."""

  seed: int
  size: int  # output side
  crop_area: tuple
  crop_aspect: tuple
  flip: bool
  color_jitter: float
  randaugment_n: int
  randaugment_m: float
  randaugment_mstd: float
  randaugment_upstream: bool
  random_erasing: float
  normalize: str
  mixup: float
  cutmix: float
  switch_prob: float
  label_smoothing: float
  num_classes: int

  @classmethod
  def from_config(cls, config, size, num_classes):
    aug = config.augment
    return cls(
      seed=config.seed,
      size=size,
      crop_area=tuple(aug.crop_area),
      crop_aspect=tuple(aug.crop_aspect),
      flip=aug.flip,
      color_jitter=aug.color_jitter,
      randaugment_n=aug.randaugment_n,
      randaugment_m=aug.randaugment_m,
      randaugment_mstd=aug.randaugment_mstd,
      randaugment_upstream=aug.randaugment_upstream,
      random_erasing=aug.random_erasing,
      normalize=config.normalize,
      mixup=aug.mixup,
      cutmix=aug.cutmix,
      switch_prob=aug.mixup_switch_prob,
      label_smoothing=config.label_smoothing,
      num_classes=num_classes,
    )


def frame_size(config, size):
  """The side of the uint8 frames the host delivers for clips of `size`.

  MAE-DFER's recipe (`resize_first`) resizes to `size` before any other op,
  on either path; otherwise `augment.device_frame_size` (-1: `size`; the
  frame size of the dataset keeps the resolution of small crops).
  """
  aug = config.augment
  if aug.resize_first or aug.device_frame_size < 0:
    return size
  if aug.device_frame_size == 0:
    raise ValueError(
      'config.augment.device_frame_size: 0; a side in pixels or -1.'
    )
  return aug.device_frame_size


def clip_keys(seed, step, batch_size):
  """[B] keys: clip i of the global batch of `step`."""
  key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), _TAG), step)
  return jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(batch_size))


def batch_key(seed, step):
  """The key of the per-batch draws (mixup/cutmix) of `step`."""
  key = jax.random.fold_in(jax.random.key(seed), _TAG + 1)
  return jax.random.fold_in(key, step)


# -- Random resized crop -------------------------------------------------


def crop_box(u, height, width, area, aspect):
  """(top, left, crop height, crop width): TensorFlow's
  `sample_distorted_bounding_box` (min_object_covered 0, the whole image as
  the box, 10 attempts), as `augment.random_resized_crop` calls it.

  Each attempt draws an aspect ratio, a crop height uniform between those
  of the smallest and largest area, and an offset uniform in
  [0, side - crop side) (TensorFlow's exclusive upper end); the first
  attempt within the area range wins, none: the whole image. `u`: the
  4 x 10 uniform [0, 1) numbers it takes.
  """
  u = u.reshape(4, _ATTEMPTS)
  ratio = aspect[0] + (aspect[1] - aspect[0]) * u[0]
  min_area = jnp.float32(area[0]) * width * height
  max_area = jnp.float32(area[1]) * width * height
  h = jnp.rint(jnp.sqrt(min_area / ratio))
  max_h = jnp.rint(jnp.sqrt(max_area / ratio))
  # The largest height whose rounded width fits.
  fit = jnp.floor((width + 0.5) / ratio)
  fit = jnp.where(jnp.rint(fit * ratio) > width, fit - 1, fit)
  max_h = jnp.where(jnp.rint(max_h * ratio) > width, fit, max_h)
  max_h = jnp.minimum(max_h, height)
  h = jnp.minimum(h, max_h)
  h = h + jnp.floor(u[1] * (max_h - h + 1))
  w = jnp.rint(h * ratio)
  small = w * h < min_area
  h = jnp.where(small, h + 1, h)
  w = jnp.rint(h * ratio)
  large = w * h > max_area
  h = jnp.where(large, h - 1, h)
  w = jnp.rint(h * ratio)
  ok = (
    (w * h >= min_area)
    & (w * h <= max_area)
    & (w <= width)
    & (h <= height)
    & (w > 0)
    & (h > 0)
  )
  y = jnp.floor(u[2] * (height - h))
  x = jnp.floor(u[3] * (width - w))
  first = jnp.argmax(ok)
  found = ok[first]
  box = jnp.stack([y[first], x[first], h[first], w[first]]).astype(jnp.int32)
  return jnp.where(found, box, jnp.array([0, 0, height, width], jnp.int32))


def _resize_matrix(start, length, size, n):
  """[size, n]: TensorFlow's bilinear resize (half-pixel centres, edges
  clamped) of the `length` pixels from `start` of `n` to `size`."""
  length = length.astype(jnp.float32)
  pos = (jnp.arange(size) + 0.5) * (length / size) - 0.5
  low = jnp.floor(pos)
  lerp = (pos - low)[:, None]
  lower = start + jnp.maximum(low, 0)
  upper = start + jnp.minimum(jnp.ceil(pos), length - 1)
  cols = jnp.arange(n)
  return (cols == lower[:, None]) * (1 - lerp) + (cols == upper[:, None]) * lerp


def crop_resize_flip(video, box, size, flip):
  """[T, H, W, 3] -> the `box` crop resized to `size` (then mirrored)."""
  rows = _resize_matrix(box[0], box[2], size, video.shape[1])
  cols = _resize_matrix(box[1], box[3], size, video.shape[2])
  cols = jnp.where(flip, cols[::-1], cols)
  return jnp.einsum(
    'ry,tyxc,sx->trsc',
    rows,
    video,
    cols,
    precision=jax.lax.Precision.HIGHEST,
  )


# -- Colour jitter -------------------------------------------------------


def _gray(video):
  return jnp.sum(video * _GRAY, -1, keepdims=True)


def _blend(a, b, factor):
  return jnp.clip(b + factor * (a - b), 0.0, 255.0)


def adjust_hue(video, delta):
  """`tf.image.adjust_hue` on [0, 1] RGB: the hue turned by `delta` turns,
  the largest and smallest channel kept."""
  r, g, b = video[..., 0], video[..., 1], video[..., 2]
  vmax = jnp.max(video, -1)
  vmin = jnp.min(video, -1)
  span = vmax - vmin
  safe = jnp.where(span > 0, span, 1.0)
  # The channel of the maximum by argmax, not by `r == vmax`: XLA may
  # compute `video` twice with different roundings (e.g. a division by 255
  # and a multiplication by its inverse), and the equality then fails.
  top = jnp.argmax(video, -1)
  hue = jnp.where(
    top == 0,
    (g - b) / safe,
    jnp.where(top == 1, (b - r) / safe + 2, (r - g) / safe + 4),
  )
  hue = jnp.where(span > 0, hue / 6, 0.0)
  hue = jnp.mod(jnp.mod(hue, 1.0) + delta, 1.0) * 6
  sextant = jnp.floor(hue)
  frac = hue - sextant
  rise, fall = vmin + span * frac, vmax - span * frac
  table = [
    (vmax, rise, vmin),
    (fall, vmax, vmin),
    (vmin, vmax, rise),
    (vmin, fall, vmax),
    (rise, vmin, vmax),
    (vmax, vmin, fall),
  ]
  out = jnp.stack(table[0], -1)
  for i, rgb in enumerate(table[1:], 1):
    out = jnp.where((sextant == i)[..., None], jnp.stack(rgb, -1), out)
  return out


def jitter_factors(u, strength):
  """(brightness, contrast, saturation, hue) as `augment.color_jitter`,
  from 4 uniform [0, 1) numbers."""
  lo, hi = max(0.0, 1 - strength), 1 + strength
  hue_lo = -min(strength, 0.5)
  return jnp.concatenate(
    [lo + (hi - lo) * u[:3], hue_lo + (strength - hue_lo) * u[3:]]
  )


def color_jitter(video, factors):
  """`augment.color_jitter` with its four factors given."""
  video = _blend(video, 0.0, factors[0])
  video = _blend(video, jnp.mean(_gray(video)), factors[1])
  video = _blend(video, _gray(video), factors[2])
  return adjust_hue(video / 255.0, factors[3]) * 255.0


# -- RandAugment ---------------------------------------------------------


def _affine(video, matrix, fill, bicubic=False):
  """`augment._affine`: every frame through the output -> input map
  [a0, a1, a2, b0, b1, b2] with pixel centres at half integers (PIL's
  convention), `fill` outside; bilinear as TensorFlow's
  ImageProjectiveTransformV3, or PIL's bicubic (`_bicubic`)."""
  if bicubic:
    return _bicubic(video, matrix, fill)
  # TensorFlow's transform puts pixel centres at integers: the same map,
  # shifted (as `augment._affine`).
  matrix = matrix + jnp.array(
    [
      0,
      0,
      (matrix[0] + matrix[1] - 1) / 2,
      0,
      0,
      (matrix[3] + matrix[4] - 1) / 2,
    ]
  )
  _, h, w, _ = video.shape
  y, x = jnp.mgrid[:h, :w].astype(jnp.float32)
  in_x = matrix[0] * x + matrix[1] * y + matrix[2]
  in_y = matrix[3] * x + matrix[4] * y + matrix[5]
  flat = video.reshape(video.shape[0], h * w, 3)

  def read(yy, xx):
    inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
    index = jnp.clip(yy, 0, h - 1) * w + jnp.clip(xx, 0, w - 1)
    pixels = flat[:, index.reshape(-1).astype(jnp.int32)]
    return pixels.reshape(video.shape) * inside[None, :, :, None]

  y0, x0 = jnp.floor(in_y), jnp.floor(in_x)
  wy, wx = (in_y - y0)[None, :, :, None], (in_x - x0)[None, :, :, None]
  top = (1 - wx) * read(y0, x0) + wx * read(y0, x0 + 1)
  bottom = (1 - wx) * read(y0 + 1, x0) + wx * read(y0 + 1, x0 + 1)
  out = (1 - wy) * top + wy * bottom
  # std::round: halves away from zero.
  ny = jnp.sign(in_y) * jnp.floor(jnp.abs(in_y) + 0.5)
  nx = jnp.sign(in_x) * jnp.floor(jnp.abs(in_x) + 0.5)
  outside = ~((ny >= 0) & (ny < h) & (nx >= 0) & (nx < w))
  return out + outside[None, :, :, None] * jnp.array(fill, jnp.float32)


def _bicubic(video, matrix, fill):
  """`augment._bicubic`: PIL's bicubic filter through the affine map; a
  pixel whose source point lies in the frame mixes the 4 x 4 nearest pixels
  (edges repeated), clipped to [0, 255]; the others get `fill`."""
  _, h, w, _ = video.shape
  v, u = jnp.mgrid[:h, :w].astype(jnp.float32) + 0.5
  x = matrix[0] * u + matrix[1] * v + matrix[2]
  y = matrix[3] * u + matrix[4] * v + matrix[5]
  inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
  x0, y0 = jnp.floor(x - 0.5), jnp.floor(y - 0.5)
  wx, wy = (
    augment.cubic_weights(x - 0.5 - x0),
    augment.cubic_weights(y - 0.5 - y0),
  )
  x0, y0 = x0.astype(jnp.int32), y0.astype(jnp.int32)
  flat = video.reshape(video.shape[0], h * w, 3)
  out = 0.0
  for j in range(4):
    row = jnp.clip(y0 - 1 + j, 0, h - 1) * w
    line = 0.0
    for i in range(4):
      pixel = (row + jnp.clip(x0 - 1 + i, 0, w - 1)).reshape(-1)
      line += wx[i][None, :, :, None] * flat[:, pixel].reshape(video.shape)
    out += wy[j][None, :, :, None] * line
  out = jnp.clip(out, 0.0, 255.0)
  return jnp.where(inside[None, :, :, None], out, jnp.array(fill, jnp.float32))


def _geometry(name, level, h, w):
  """The output -> input affine map of a geometric op at `level`."""
  if name == 'Rotate':
    t = level * 30.0 * math.pi / 180.0
    c, s = jnp.cos(t), jnp.sin(t)
    cx, cy = w / 2, h / 2
    return jnp.stack([c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy])
  one, zero = jnp.ones_like(level), jnp.zeros_like(level)
  k = level * 0.3
  return {
    'ShearX': lambda: jnp.stack([one, k, zero, zero, one, zero]),
    'ShearY': lambda: jnp.stack([one, zero, zero, k, one, zero]),
    'TranslateX': lambda: jnp.stack(
      [one, zero, level * 0.45 * w, zero, one, zero]
    ),
    'TranslateY': lambda: jnp.stack(
      [one, zero, zero, zero, one, level * 0.45 * h]
    ),
  }[name]()


def _autocontrast_frames(video):
  """`augment._autocontrast_frames` (PIL's per frame and channel; float32
  here, float64 there: a level can differ by one)."""
  lo = jnp.min(video, (1, 2), keepdims=True)
  hi = jnp.max(video, (1, 2), keepdims=True)
  scale = 255.0 / jnp.maximum(hi - lo, 1.0)
  out = jnp.clip(jnp.floor(video * scale + -lo * scale), 0.0, 255.0)
  return jnp.where(hi > lo, out, video)


def _autocontrast(video):
  lo = jnp.min(video, (0, 1, 2), keepdims=True)
  hi = jnp.max(video, (0, 1, 2), keepdims=True)
  scale = jnp.where(hi > lo, 255.0 / jnp.maximum(hi - lo, 1e-3), 1.0)
  return jnp.where(hi > lo, (video - lo) * scale, video)


def _equalize_frames(video):
  """`augment._equalize_frames`: PIL's `ImageOps.equalize` per frame and
  channel, in integers."""
  t, h, w, _ = video.shape
  levels = jnp.clip(video, 0, 255).astype(jnp.int32)
  flat = levels.transpose(0, 3, 1, 2).reshape(t * 3, h * w)
  rows = jnp.arange(t * 3)[:, None]
  hist = jnp.zeros((t * 3, 256), jnp.int32).at[rows, flat].add(1)
  top = jnp.max(jnp.where(hist > 0, jnp.arange(256), -1), 1)
  last = jnp.take_along_axis(hist, top[:, None], 1)[:, 0]
  step = (jnp.sum(hist, 1) - last) // 255
  below = jnp.cumsum(hist, 1) - hist
  lut = (step[:, None] // 2 + below) // jnp.maximum(step[:, None], 1)
  lut = jnp.minimum(lut, 255)
  identity = (jnp.sum(hist > 0, 1) <= 1) | (step == 0)
  lut = jnp.where(identity[:, None], jnp.arange(256), lut)
  out = jnp.take_along_axis(lut, flat, 1)
  return out.reshape(t, 3, h, w).transpose(0, 2, 3, 1).astype(jnp.float32)


def _smooth_frames(video):
  """PIL `ImageFilter.SMOOTH` (3 x 3, centre 5, /13), borders kept."""
  _, h, w, _ = video.shape
  inner = 4 * video[:, 1:-1, 1:-1]
  for dy in range(3):
    for dx in range(3):
      inner = inner + video[:, dy : dy + h - 2, dx : dx + w - 2]
  inner = jnp.clip(jnp.round(inner / 13), 0.0, 255.0)
  return video.at[:, 1:-1, 1:-1].set(inner)


def rand_op(video, name, m, level, factor, upstream):
  """One RandAugment op of `augment.rand_ops` by name."""
  fill = augment.UPSTREAM_FILL if upstream else augment._FILL
  if name in ('Rotate', 'ShearX', 'ShearY', 'TranslateX', 'TranslateY'):
    h, w = video.shape[1:3]
    return _affine(video, _geometry(name, level, h, w), fill, upstream)
  gray = _gray(video)
  if name == 'AutoContrast':
    return _autocontrast_frames(video) if upstream else _autocontrast(video)
  if name == 'Equalize':
    return _equalize_frames(video)
  if name == 'Invert':
    return 255.0 - video
  if name == 'Posterize':
    shift = 8 - (4 - jnp.floor(m / 10 * 4))
    return jnp.floor(jnp.floor(video) / 2.0**shift) * 2.0**shift
  if name == 'Solarize':
    threshold = 256.0 - jnp.floor(m / 10 * 256)
    return jnp.where(video >= threshold, 255.0 - video, video)
  if name == 'SolarizeAdd':
    added = jnp.clip(video + jnp.floor(m / 10 * 110), 0.0, 255.0)
    return jnp.where(video < 128.0, added, video)
  if name == 'Color':
    return _blend(video, gray, factor)
  if name == 'Contrast':
    mean = (
      jnp.round(jnp.mean(gray, (1, 2, 3), keepdims=True))
      if upstream
      else jnp.mean(gray)
    )
    return _blend(video, mean, factor)
  if name == 'Brightness':
    return _blend(video, 0.0, factor)
  if name == 'Sharpness':
    return _blend(video, _smooth_frames(video), factor)
  raise ValueError(f'unknown RandAugment op {name!r}')


def op_names(upstream):
  """The ops of `augment.rand_ops`, in its order (15 or 13)."""
  names = list(augment.UPSTREAM_OPS)
  if not upstream:
    names = [n for n in names if n not in ('Equalize', 'Sharpness')]
  return names


def randaugment_params(u, z, s):
  """Per op slot: (op index, applied, magnitude, sign), as
  `augment._random_op` draws them, from 3 uniform [0, 1) numbers `u` and
  one standard normal `z` per slot."""
  u = u.reshape(3, s.randaugment_n)
  num_ops = len(op_names(s.randaugment_upstream))
  m = s.randaugment_m + s.randaugment_mstd * z
  return {
    'op': jnp.minimum(jnp.floor(u[0] * num_ops), num_ops - 1).astype(int),
    'apply': u[1] < 0.5,
    'm': jnp.clip(m, 0.0, 10.0),
    'sign': jnp.where(u[2] < 0.5, -1.0, 1.0),
  }


def randaugment(video, params, upstream):
  """`augment.randaugment` with its draws given (`randaugment_params`).

  Every op of a slot is computed and the drawn one selected (vmap turns a
  switch into that anyway); the geometric ops share one resampling.
  """
  names = op_names(upstream)
  geometric = ('Rotate', 'ShearX', 'ShearY', 'TranslateX', 'TranslateY')
  fill = augment.UPSTREAM_FILL if upstream else augment._FILL
  h, w = video.shape[1:3]
  for i in range(params['op'].shape[0]):
    op, m = params['op'][i], params['m'][i]
    level = params['sign'][i] * m / 10
    factor = 1.0 + level * 0.9
    matrix = jnp.array([1.0, 0, 0, 0, 1, 0])
    for j, name in enumerate(names):
      if name in geometric:
        matrix = jnp.where(op == j, _geometry(name, level, h, w), matrix)
    moved = _affine(video, matrix, fill, upstream)
    out = moved
    for j, name in enumerate(names):
      if name not in geometric:
        out = jnp.where(
          op == j, rand_op(video, name, m, level, factor, upstream), out
        )
    video = jnp.where(params['apply'][i], out, video)
  return video


# -- Normalisation and random erasing ------------------------------------


def normalize(video, mode):
  """`augment.normalize`."""
  mean, std = augment.pixel_stats(mode)
  video = video / 255.0
  return video if mode == 'unit' else (video - jnp.array(mean)) / jnp.array(std)


def erasing_box(u, probability, height, width):
  """(erase, top, left, box height, box width) as `augment.random_erasing`,
  from 5 uniform [0, 1) numbers."""
  area = height * width * (0.02 + (1 / 3 - 0.02) * u[0])
  log_lo, log_hi = math.log(0.3), math.log(1 / 0.3)
  r = jnp.exp(log_lo + (log_hi - log_lo) * u[1])
  eh = jnp.minimum(jnp.round(jnp.sqrt(area * r)), height)
  ew = jnp.minimum(jnp.round(jnp.sqrt(area / r)), width)
  top = jnp.floor(u[2] * (height - eh + 1))
  left = jnp.floor(u[3] * (width - ew + 1))
  erase = u[4] < probability
  return jnp.stack([erase, top, left, eh, ew]).astype(jnp.int32)


def random_erasing(video, box, key):
  """Replaces the `box` of every frame by N(0, 1) noise (if box[0])."""
  rows = jnp.arange(video.shape[1])[:, None]
  cols = jnp.arange(video.shape[2])[None, :]
  inside = (
    (rows >= box[1])
    & (rows < box[1] + box[3])
    & (cols >= box[2])
    & (cols < box[2] + box[4])
  )
  noise = jax.random.normal(key, video.shape)
  return jnp.where((box[0] > 0) & inside[None, :, :, None], noise, video)


# -- One clip ------------------------------------------------------------


def draw(key, s, height, width):
  """A clip's random parameters (dict of arrays) for `augment_clip`.

  All its uniform numbers come from one threefry call (each call is
  compiled on its own: one per op made XLA:CPU take seconds longer).
  """
  k_u, k_z, k_noise = jax.random.split(key, 3)
  n_ra = s.randaugment_n
  u = jax.random.uniform(k_u, [4 * _ATTEMPTS + 10 + 3 * n_ra])
  params = {
    'crop': crop_box(u[:40], height, width, s.crop_area, s.crop_aspect),
    'flip': s.flip & (u[40] < 0.5),
  }
  if s.color_jitter:
    params['jitter'] = jitter_factors(u[41:45], s.color_jitter)
  if s.random_erasing:
    params['erase'] = erasing_box(u[45:50], s.random_erasing, s.size, s.size)
    params['noise'] = k_noise
  if n_ra:
    z = jax.random.normal(k_z, [n_ra])
    params['randaugment'] = randaugment_params(u[50:], z, s)
  return params


def augment_clip(frames, params, s):
  """uint8 frames [T, H, W, 3] -> the augmented float clip [T, S, S, 3]."""
  video = frames.astype(jnp.float32)  # integer levels: PIL's frames
  if s.randaugment_n:
    video = randaugment(video, params['randaugment'], s.randaugment_upstream)
  video = crop_resize_flip(video, params['crop'], s.size, params['flip'])
  if s.color_jitter:
    video = color_jitter(video, params['jitter'])
  video = normalize(jnp.clip(video, 0.0, 255.0), s.normalize)
  if s.random_erasing:
    video = random_erasing(video, params['erase'], params['noise'])
  return video


# -- Mixup / cutmix ------------------------------------------------------


def mix_params(key, s, height, width):
  """(cutmix?, lambda, y0, y1, x0, x1) of a batch as `augment.mix_batch`."""
  k_switch, k_lam, k_y, k_x = jax.random.split(key, 4)
  if s.cutmix > 0 and s.mixup > 0:
    use_cutmix = jax.random.uniform(k_switch) < s.switch_prob
  else:
    use_cutmix = jnp.bool_(s.cutmix > 0)
  alpha = jnp.where(use_cutmix, s.cutmix, s.mixup)
  lam = jax.random.beta(k_lam, alpha, alpha)
  ratio = jnp.sqrt(1 - lam)
  ch = jnp.floor(height * ratio).astype(jnp.int32)
  cw = jnp.floor(width * ratio).astype(jnp.int32)
  cy = jax.random.randint(k_y, [], 0, height)
  cx = jax.random.randint(k_x, [], 0, width)
  y0, y1 = jnp.clip(cy - ch // 2, 0, height), jnp.clip(cy + ch // 2, 0, height)
  x0, x1 = jnp.clip(cx - cw // 2, 0, width), jnp.clip(cx + cw // 2, 0, width)
  cut_lam = 1 - (y1 - y0) * (x1 - x0) / (height * width)
  lam = jnp.where(use_cutmix, cut_lam, lam)
  return use_cutmix, lam, jnp.stack([y0, y1, x0, x1])


def mix(video, label, key, s):
  """`augment.mix_batch` over the global batch: (video, soft targets)."""
  height, width = video.shape[2:4]
  use_cutmix, lam, box = mix_params(key, s, height, width)
  flipped = video[::-1]
  rows = jnp.arange(height)[:, None]
  cols = jnp.arange(width)[None, :]
  inside = (rows >= box[0]) & (rows < box[1]) & (cols >= box[2])
  inside = inside & (cols < box[3])
  cut = jnp.where(inside[None, None, :, :, None], flipped, video)
  video = jnp.where(use_cutmix, cut, video * lam + flipped * (1 - lam))
  off = s.label_smoothing / s.num_classes
  onehot = jax.nn.one_hot(label, s.num_classes) * (1 - s.label_smoothing)
  onehot = onehot + off
  return video, lam * onehot + (1 - lam) * onehot[::-1]


# -- The batch -----------------------------------------------------------


def augment_batch(batch, step, s):
  """The augmented global batch of `step` (uint8 video -> float)."""
  frames = batch['video']
  height, width = frames.shape[2:4]
  keys = clip_keys(s.seed, step, frames.shape[0])
  # On an Explicit mesh the batch axis of `frames` is typed sharded: the
  # keys must be too, for vmap.
  spec = jax.typeof(frames).sharding.spec
  if spec and spec[0] is not None:
    sharding = jax.typeof(frames).sharding.update(spec=jax.P(spec[0]))
    keys = jax.sharding.reshard(keys, sharding)
  params = jax.vmap(lambda k: draw(k, s, height, width))(keys)
  video = jax.vmap(lambda f, p: augment_clip(f, p, s))(frames, params)
  out = dict(batch, video=video)
  if s.mixup or s.cutmix:
    out['video'], out['label'] = mix(
      video, batch['label'], batch_key(s.seed, step), s
    )
  return out


def make(config, size, num_classes, sharding):
  """`augment_batch` of `config`, jitted: (global batch, step) -> batch,
  sharded as `sharding`."""
  return _jitted(Settings.from_config(config, size, num_classes), sharding)


@functools.cache  # one compilation per (settings, sharding) in a process
def _jitted(s, sharding):
  return jax.jit(functools.partial(augment_batch, s=s), out_shardings=sharding)
