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


def crop_box(key, height, width, area, aspect):
  """(top, left, crop height, crop width): TensorFlow's
  `sample_distorted_bounding_box` (min_object_covered 0, the whole image as
  the box, 10 attempts), as `augment.random_resized_crop` calls it.

  Each attempt draws an aspect ratio, a crop height uniform between those
  of the smallest and largest area, and an offset uniform in
  [0, side - crop side) (TensorFlow's exclusive upper end); the first
  attempt within the area range wins, none: the whole image.
  """
  k_aspect, k_h, k_y, k_x = jax.random.split(key, 4)
  ratio = jax.random.uniform(
    k_aspect, [_ATTEMPTS], minval=aspect[0], maxval=aspect[1]
  )
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
  u = jax.random.uniform(k_h, [_ATTEMPTS])
  h = h + jnp.floor(u * (max_h - h + 1))
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
  y = jnp.floor(jax.random.uniform(k_y, [_ATTEMPTS]) * (height - h))
  x = jnp.floor(jax.random.uniform(k_x, [_ATTEMPTS]) * (width - w))
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


def jitter_factors(key, strength):
  """(brightness, contrast, saturation, hue) as `augment.color_jitter`."""
  k = jax.random.split(key, 2)
  lo, hi = max(0.0, 1 - strength), 1 + strength
  bcs = jax.random.uniform(k[0], [3], minval=lo, maxval=hi)
  hue = jax.random.uniform(
    k[1], [], minval=-min(strength, 0.5), maxval=strength
  )
  return jnp.concatenate([bcs, hue[None]])


def color_jitter(video, factors):
  """`augment.color_jitter` with its four factors given."""
  video = _blend(video, 0.0, factors[0])
  video = _blend(video, jnp.mean(_gray(video)), factors[1])
  video = _blend(video, _gray(video), factors[2])
  return adjust_hue(video / 255.0, factors[3]) * 255.0


# -- Normalisation and random erasing ------------------------------------


def normalize(video, mode):
  """`augment.normalize`."""
  video = video / 255.0
  if mode == 'unit':
    return video
  if mode == 'imagenet':
    mean = jnp.array(augment.IMAGENET_MEAN)
    return (video - mean) / jnp.array(augment.IMAGENET_STD)
  raise ValueError(f'config.normalize: unknown mode {mode!r}.')


def erasing_box(key, probability, height, width):
  """(erase, top, left, box height, box width) as `augment.random_erasing`."""
  k = jax.random.split(key, 5)
  area = height * width * jax.random.uniform(k[0], minval=0.02, maxval=1 / 3)
  r = jnp.exp(
    jax.random.uniform(k[1], minval=math.log(0.3), maxval=math.log(1 / 0.3))
  )
  eh = jnp.minimum(jnp.round(jnp.sqrt(area * r)), height)
  ew = jnp.minimum(jnp.round(jnp.sqrt(area / r)), width)
  top = jnp.floor(jax.random.uniform(k[2]) * (height - eh + 1))
  left = jnp.floor(jax.random.uniform(k[3]) * (width - ew + 1))
  erase = jax.random.uniform(k[4]) < probability
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
  """A clip's random parameters (dict of arrays) for `augment_clip`."""
  k = jax.random.split(key, 6)
  params = {'crop': crop_box(k[0], height, width, s.crop_area, s.crop_aspect)}
  params['flip'] = s.flip & (jax.random.uniform(k[1]) < 0.5)
  if s.color_jitter:
    params['jitter'] = jitter_factors(k[2], s.color_jitter)
  if s.random_erasing:
    params['erase'] = erasing_box(k[3], s.random_erasing, s.size, s.size)
    params['noise'] = k[4]
  return params


def augment_clip(frames, params, s):
  """uint8 frames [T, H, W, 3] -> the augmented float clip [T, S, S, 3]."""
  video = frames.astype(jnp.float32)
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
  s = Settings.from_config(config, size, num_classes)
  return jax.jit(functools.partial(augment_batch, s=s), out_shardings=sharding)
