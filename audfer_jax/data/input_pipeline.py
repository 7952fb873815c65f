"""TFDS -> tf.data -> globally sharded `jax.Array` batches.

Each host reads its own part of a split: for training, one shard per device
of the mesh, for evaluation, one per process (`shard_split`). It decodes only the sampled frames, augments
them with stateless random ops seeded by (seed, shard, epoch, example
index), and the host batches are stitched into global arrays sharded over the
`data` mesh axis. The training stream for a step is a pure function of
(seed, step) and the number of devices, whatever the number of processes:
resume is exact (a restarted run skips to its step without reading the
skipped clips' frames), and two hosts of two devices train as one host of
four.
"""

import collections
import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
import time

from absl import logging
import jax
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from audfer_jax.data import augment
from audfer_jax.data import device_augment
from audfer_jax.data import folds
from audfer_jax.data import video_sampling
import tfds_builders  # noqa: F401 (registers the builders with TFDS)
from tfds_builders import prepare

# Datasets small and synthetic enough to prepare on the fly.
_AUTO_PREPARE = ('au_faces',)

# tf.data converts every function it maps with AutoGraph unless told not to,
# and AutoGraph writes each converted function to a file in the system temp
# dir (`__autograph_generated_file*.py`) that only a clean exit removes. The
# functions mapped here call TensorFlow's control flow (tf.cond) themselves,
# so they are traced as written: the same graph, and no file.
as_written = tf.autograph.experimental.do_not_convert


@dataclasses.dataclass(frozen=True)
class ClipShape:
  """What the model takes: `num_frames` frames of `size` x `size` pixels."""

  num_frames: int
  size: int


def resolve_splits(config):
  """(train, test) split strings; both 'fold' (`folds.FOLD`, or '' in
  configs stored by older runs) select fold `config.fold` of the dataset."""
  if not folds.selects_fold(config.train_split, config.test_split):
    return config.train_split, config.test_split
  try:
    return folds.fold_splits(config.dataset, config.fold)
  except ValueError as e:
    raise ValueError(f'config.fold: {e}') from None


def get_builder(config):
  """The prepared TFDS builder of `config.dataset`.

  au_faces is prepared on first use; the real datasets are prepared when
  `config.manual_dir` holds their raw files, otherwise the error says how.
  """
  data_dir = os.path.expanduser(config.data_dir)
  with _scratch_tempdir():
    return _get_builder(config, data_dir)


@contextlib.contextmanager
def _scratch_tempdir():
  """Python's temp files inside, in a directory removed after.

  TFDS leaves an empty `tmp*tfds` directory in the system temp dir whenever
  it makes the builder of a dataset not prepared yet (made to copy the
  dataset's metadata from its bucket, where ours have none).
  """
  scratch = tempfile.mkdtemp(prefix='audfer_jax-')
  before, tempfile.tempdir = tempfile.tempdir, scratch
  try:
    yield
  finally:
    tempfile.tempdir = before
    shutil.rmtree(scratch, ignore_errors=True)


def _get_builder(config, data_dir):
  try:
    builder = tfds.builder(config.dataset, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError:
    raise ValueError(
      f'config.dataset: unknown dataset {config.dataset!r}; the builders are '
      f'{sorted(n for n in tfds.list_builders() if n in prepare.DATASETS)} '
      "(as 'name' or 'name/config')."
    ) from None
  if builder.is_prepared():
    stale = prepare.prepared_elsewhere(builder, config.manual_dir)
    if stale:
      raise ValueError(f'config.manual_dir: {stale}')
    return builder
  name = config.dataset.split('/')[0]
  if name in _AUTO_PREPARE or config.manual_dir:
    # Worker processes (one per CPU, fewer for small datasets) make the clips.
    builder = tfds.builder(config.dataset, data_dir=data_dir, workers=None)
    download_config = tfds.download.DownloadConfig(
      manual_dir=config.manual_dir or None
    )
    logging.info(
      'Preparing %s in %s (once; au_faces takes 0.5-1.5 min) ...',
      config.dataset,
      builder.data_dir,
    )
    if not sys.stderr.isatty():  # a log file: no progress bars
      tfds.disable_progress_bar()
    started = time.time()
    builder.download_and_prepare(download_config=download_config)
    logging.info('Prepared in %.0f s.', time.time() - started)
    return builder
  raw = f'/path/to/raw/{name}'
  raise FileNotFoundError(
    f'config.dataset: {config.dataset!r} is not prepared in '
    f'config.data_dir={data_dir!r}. Prepare it once with '
    f'`--config.manual_dir={raw}` (this run then prepares it), or with: '
    f'{prepare.command(config.dataset, data_dir, raw)}'
  )


def _decode(frames, indices):
  """Decodes the JPEG frames at `indices` only -> [len(indices), H, W, 3]."""
  return tf.map_fn(
    lambda b: tf.io.decode_jpeg(b, channels=3),
    tf.gather(frames, indices),
    fn_output_signature=tf.uint8,
  )


def _center_crop(video, fraction):
  """Keeps the central `fraction` of the height and width."""
  if fraction >= 1.0:
    return video
  return tf.image.central_crop(video, fraction)


def _resize_eval(video, size, mode):
  """Deterministic view: square resize, or short side + centre crop."""
  if mode == 'square':
    return tf.image.resize(video, [size, size])
  if mode != 'short_side_crop':
    raise ValueError(f'config.eval_resize: unknown mode {mode!r}.')
  hw = tf.cast(tf.shape(video)[1:3], tf.float32)
  new = tf.cast(tf.math.ceil(hw * size / tf.reduce_min(hw)), tf.int32)
  video = tf.image.resize(video, new)
  top, left = (new[0] - size) // 2, (new[1] - size) // 2
  return video[:, top : top + size, left : left + size]


def _targets(example):
  return {
    'label': tf.cast(example['label'], tf.int32),
    'au_label': tf.cast(example['au_label'], tf.float32),
    'au_valid': example['au_valid'],
  }


# The values of `config.sampling` (configs/common.py says what each does).
SAMPLERS = (
  'm3dfel_upstream',
  'mae_dfer_upstream',
  'former_dfer_upstream',
  'all_frames',
  'segments',
  'window',
)


def _check_sampling(config):
  if config.sampling not in SAMPLERS:
    raise ValueError(
      f'config.sampling: unknown sampler {config.sampling!r}; one of '
      f'{", ".join(SAMPLERS)}.'
    )


def _train_indices(n, config, t, seed):
  """The `t` frames a training clip of `n` frames is sampled at."""
  _check_sampling(config)
  k, rate = config.frames_per_segment, config.sampling_rate
  if config.sampling == 'm3dfel_upstream':
    return video_sampling.m3dfel_upstream_indices(n, t, seed)
  if config.sampling == 'mae_dfer_upstream':
    return video_sampling.mae_dfer_upstream_indices(n, t, rate, seed)
  if config.sampling == 'former_dfer_upstream':
    return video_sampling.former_dfer_upstream_indices(n, t // k, k, seed)
  if config.sampling == 'all_frames':
    return video_sampling.all_frames(n, t)
  if config.sampling == 'window':
    return video_sampling.window_indices(n, t, rate, seed)
  return video_sampling.segment_indices(n, t // k, k, seed)


def _eval_indices(frames, config, t):
  """[views, t] frames the evaluation takes of the JPEG `frames` [n]."""
  _check_sampling(config)
  n = tf.shape(frames)[0]
  k = config.frames_per_segment
  if config.sampling in ('mae_dfer_upstream', 'window'):
    return video_sampling.strided_views(
      n, t, config.sampling_rate, config.eval_views
    )
  if config.sampling == 'm3dfel_upstream':
    seed = video_sampling.clip_seed(frames, config.seed)
    idx = video_sampling.m3dfel_upstream_indices(n, t, seed)
  elif config.sampling == 'former_dfer_upstream':
    idx = video_sampling.former_dfer_upstream_indices(n, t // k, k)
  elif config.sampling == 'all_frames':
    idx = video_sampling.all_frames(n, t)
  else:
    idx = video_sampling.segment_indices(n, t // k, k)
  return idx[None]


def _crop_first(config):
  """Whether the training crop is the first spatial op of the training
  clip (no centre crop, resize or RandAugment before it)."""
  aug = config.augment
  return (
    config.center_crop >= 1.0
    and not aug.resize_first
    and not (aug.randaugment_n)
  )


def _crop_window(image_shape, seed, size, aug):
  """(begin, size) of the training crop `aug.crop` in an image of
  `image_shape` [H, W, C]: the random resized crop (`crop_area`,
  `crop_aspect`) or MAE-DFER's pre-training `GroupMultiScaleCrop`
  (`crop_scales`)."""
  if aug.crop == 'group_multiscale':
    return augment.multiscale_crop_window(
      image_shape, seed, size, tuple(aug.crop_scales)
    )
  return augment.crop_window(
    image_shape, seed, tuple(aug.crop_area), tuple(aug.crop_aspect)
  )


def _resize_crop(video, size, aug):
  """The crop resized to `size` x `size`: bilinear, or PIL's BILINEAR
  resize (a triangle filter widened by the shrink factor: tf's antialias)
  that `GroupMultiScaleCrop` calls."""
  antialias = aug.crop == 'group_multiscale'
  return tf.image.resize(video, [size, size], antialias=antialias)


# Columns decoded either side of a crop window: libjpeg's crop decoding
# upsamples the subsampled chroma at the window's left and right edges from
# the window alone (up to 50 levels off in the edge columns measured); one
# chroma sample more on each side gives decode-then-crop's pixels exactly.
_CROP_MARGIN = 8


def _decode_crop(frames, indices, seed, size, aug):
  """The training crop of the JPEG frames at `indices`, decoding only its
  window (libjpeg skips the rows above and below it and the blocks left
  and right of it) -> [len(indices), size, size, 3] float.

  The window is drawn as `_augment_frames` draws it from the decoded
  frames (their shape is read from the first frame's header), so the
  pixels are those of decode-then-crop (tests/test_input_pipeline.py).
  """
  shape = tf.io.extract_jpeg_shape(frames[indices[0]])
  begin, crop = _crop_window(shape, seed, size, aug)
  # The part of the window inside the frame (GroupMultiScaleCrop's can pass
  # its edges: `augment.crop_padded`), with the chroma margin.
  top = tf.maximum(begin[0], 0)
  bottom = tf.minimum(begin[0] + crop[0], shape[0])
  left = tf.maximum(begin[1] - _CROP_MARGIN, 0)
  right = tf.minimum(begin[1] + crop[1] + _CROP_MARGIN, shape[1])
  window = tf.stack([top, left, bottom - top, right - left])
  video = tf.map_fn(
    lambda b: tf.io.decode_and_crop_jpeg(b, window, channels=3),
    tf.gather(frames, indices),
    fn_output_signature=tf.uint8,
  )
  video = augment.crop_padded(video, begin - tf.stack([top, left, 0]), crop)
  return _resize_crop(tf.cast(video, tf.float32), size, aug)


def _augment_frames(video, s, size, aug):
  """Square resize (MAE-DFER), RandAugment and the training crop of
  decoded frames [T, H, W, 3] float -> [T, size, size, 3]."""
  if aug.resize_first:
    video = tf.image.resize(video, [size, size])
  if aug.randaugment_n:
    video = augment.randaugment(
      video,
      aug.randaugment_n,
      aug.randaugment_m,
      aug.randaugment_mstd,
      s[1],
      aug.randaugment_upstream,
    )
  begin, crop = _crop_window(tf.shape(video)[1:4], s[2], size, aug)
  return _resize_crop(augment.crop_padded(video, begin, crop), size, aug)


def _sample(example, seed, config, shape):
  """(seeds of the clip's ops, its JPEG frames [n], the sampled indices)."""
  s = augment.split_seed(seed, 6)
  frames = example['video']
  idx = _train_indices(tf.shape(frames)[0], config, shape.num_frames, s[0])
  return s, frames, idx


# AutoGraph would also parse the source of every function a clip goes
# through: 2 s of Python at the start of each run on two cores.
@as_written
def train_frames(example, seed, config, shape):
  """A training clip for `device_augment`: its sampled frames resized to
  `device_augment.frame_size`, uint8 [T, F, F, 3], + targets."""
  _, frames, idx = _sample(example, seed, config, shape)
  video = _center_crop(_decode(frames, idx), config.center_crop)
  size = device_augment.frame_size(config, shape.size)

  def resized():
    video_f = tf.image.resize(video, [size, size])
    return tf.cast(tf.round(tf.clip_by_value(video_f, 0, 255)), tf.uint8)

  same = tf.reduce_all(tf.shape(video)[1:3] == size)
  video = tf.cond(same, lambda: video, resized)
  return {'video': video, **_targets(example)}


@as_written
def train_clip(example, seed, config, shape):
  """One augmented training clip: video [T, S, S, 3] float + targets."""
  s, frames, idx = _sample(example, seed, config, shape)
  aug = config.augment
  if _crop_first(config):
    video = _decode_crop(frames, idx, s[2], shape.size, aug)
  else:
    video = _center_crop(_decode(frames, idx), config.center_crop)
    video = _augment_frames(tf.cast(video, tf.float32), s, shape.size, aug)
  if aug.flip:
    video = augment.random_flip(video, s[3])
  if aug.color_jitter:
    video = augment.color_jitter(video, aug.color_jitter, s[4])
  video = augment.normalize(
    tf.clip_by_value(video, 0.0, 255.0), config.normalize
  )
  if aug.random_erasing:
    video = augment.random_erasing(video, aug.random_erasing, s[5])
  return {'video': video, **_targets(example)}


@as_written
def eval_views(frames, config, shape):
  """The evaluation's deterministic views of a clip's JPEG frames [n]:
  video [V, T, S, S, 3] float (also what `audfer_jax.predict` feeds)."""
  t = shape.num_frames
  idx = _eval_indices(frames, config, t)
  views = tf.shape(idx)[0]
  video = _decode(frames, tf.reshape(idx, [-1]))
  video = _center_crop(video, config.center_crop)
  video = _resize_eval(
    tf.cast(video, tf.float32), shape.size, config.eval_resize
  )
  video = augment.normalize(video, config.normalize)
  return tf.reshape(video, [views, t, shape.size, shape.size, 3])


@as_written
def eval_clip(example, config, shape):
  """Deterministic views of one clip: video [V, T, S, S, 3] + targets."""
  video = eval_views(example['video'], config, shape)
  return {'video': video, **_targets(example)}


def _read(builder, split):
  return builder.as_dataset(
    split=split,
    shuffle_files=False,
    decoders={'video': tfds.decode.SkipDecoding()},
    read_config=tfds.ReadConfig(try_autocache=False),
  )


def local_shards(sharding):
  """(this process's data shards, the number of shards) for `sharding`.

  The training split has one shard per device of the mesh, numbered in mesh
  order; a process reads the shards of its own devices. A global batch is so
  the same clips however the devices are spread over processes.

  Raises:
    ValueError: this process's devices are not contiguous in the mesh (its
      host batch would not be one block of the global batch).
  """
  devices = list(sharding.mesh.devices.flat)
  mine = [
    i for i, d in enumerate(devices) if d.process_index == jax.process_index()
  ]
  if mine != list(range(mine[0], mine[0] + len(mine))):
    raise ValueError(
      f'process {jax.process_index()} has mesh positions {mine}, not one '
      'contiguous block of the data axis.'
    )
  return mine, len(devices)


def shard_split(builder, split, shard, num_shards):
  """Shard `shard` of `num_shards` of `split`, as a split string.

  The shard is the clips [k N / n, (k + 1) N / n) of the split's parts laid
  end to end (N clips, n shards), so shards differ by one clip at most.
  `tfds.even_splits` divides each part of a fold's 'set_2+set_3+...' on its
  own instead: with small parts, some shards get nothing.

  Raises:
    ValueError: the split has fewer clips than shards.
  """
  parts = []
  for part in tfds.core.ReadInstruction.from_spec(split).to_absolute(
    builder.info.splits
  ):
    size = builder.info.splits[part.splitname].num_examples
    start = part.from_ or 0
    parts.append((part.splitname, start, size if part.to is None else part.to))
  total = sum(stop - start for _, start, stop in parts)
  if total < num_shards:
    raise ValueError(
      f'split {split!r} has {total} clips, fewer than the {num_shards} '
      'shards it is read in (one per device for training, one per process '
      'for evaluation).'
    )
  low, high = shard * total // num_shards, (shard + 1) * total // num_shards
  pieces, offset = [], 0
  for name, start, stop in parts:
    first = start + max(low - offset, 0)
    last = start + min(high - offset, stop - start)
    if first < last:
      pieces.append(f'{name}[{first}:{last}]')
    offset += stop - start
  return '+'.join(pieces)


def _positions(builder, split):
  """[(split name, index)] of `split`'s clips laid end to end, in order."""
  out = []
  for part in tfds.core.ReadInstruction.from_spec(split).to_absolute(
    builder.info.splits
  ):
    size = builder.info.splits[part.splitname].num_examples
    stop = size if part.to is None else part.to
    out += [(part.splitname, i) for i in range(part.from_ or 0, stop)]
  return out


def _ranges(positions):
  """'name[a:b]+...': the split string of `positions` (in order), merging
  consecutive clips of a part into one range."""
  pieces = []
  for name, i in positions:
    if pieces and pieces[-1][0] == name and pieces[-1][2] == i:
      pieces[-1][2] = i + 1
    else:
      pieces.append([name, i, i + 1])
  return '+'.join(f'{n}[{a}:{b}]' for n, a, b in pieces)


def split_labels(builder, split):
  """The expression label of each clip of `split`, in split order."""
  ds = builder.as_dataset(
    split=split,
    shuffle_files=False,
    decoders={'video': tfds.decode.SkipDecoding()},
    read_config=tfds.ReadConfig(try_autocache=False),
  ).map(as_written(lambda ex: ex['label']))
  return np.fromiter(tfds.as_numpy(ds), np.int64)


def validation_holdout(labels, fraction, seed):
  """Sorted positions of the clips held out: per class, round(fraction * n)
  of its n clips, drawn by a generator seeded by (seed, class)."""
  held = []
  for c in np.unique(labels):
    members = np.flatnonzero(labels == c)
    rng = np.random.default_rng([seed, int(c)])
    k = int(round(fraction * len(members)))
    held.append(rng.choice(members, k, replace=False))
  return np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)


def hold_out_validation(builder, split, fraction, seed):
  """(training split, validation split): `split` without and with a
  stratified, seeded `fraction` of its clips (one clip: one video), as split
  strings. Every process computes the same ones from the split's labels.

  Raises:
    ValueError: the validation set or the rest would be empty.
  """
  labels = split_labels(builder, split)
  held = validation_holdout(labels, fraction, seed)
  if not 0 < len(held) < len(labels):
    raise ValueError(
      f'config.validation_fraction: {fraction} of split {split!r} '
      f'({len(labels)} clips) holds out {len(held)} clips; it must hold out '
      'at least one and leave at least one.'
    )
  positions = _positions(builder, split)
  keep = np.ones(len(labels), bool)
  keep[held] = False
  return (
    _ranges([p for p, k in zip(positions, keep, strict=True) if k]),
    _ranges([positions[i] for i in held]),
  )


def _shard(builder, split, shard, num_shards, config, epoch, steps):
  """(augmentation seed, example) of one shard's clips in one epoch."""
  ds = _read(builder, shard_split(builder, split, shard, num_shards))
  ds = ds.enumerate()
  ds = ds.shuffle(
    config.shuffle_buffer_size,
    seed=config.seed * 100_003 + epoch * 1009 + shard,
    reshuffle_each_iteration=False,
  )
  base = tf.constant([config.seed, shard], tf.int64)
  shard_batch = config.batch_size // num_shards
  return ds.take(steps * shard_batch).map(
    as_written(
      lambda index, example: (
        tf.random.experimental.stateless_fold_in(
          base, epoch * 100_000_000 + index
        ),
        example,
      )
    )
  )


def augments_on_device(config):
  """Whether training augments on the devices (`device_augment`):
  `config.augment.on_device`, whose 'auto' is True where JAX's default
  backend is a GPU or TPU (the same for every step of a run's process) and
  the crop has a device version (not the host-only 'group_multiscale')."""
  on_device = config.augment.on_device
  if on_device == 'auto':
    return (
      jax.default_backend() != 'cpu'
      and config.augment.crop != 'group_multiscale'
    )
  return bool(on_device)


def train_epoch(builder, split, config, shape, epoch, shards, skip=0):
  """This host's batches of one training epoch, from batch `skip` on.

  `shards`: (this host's shards, number of shards) as from `local_shards`;
  a host batch is `config.batch_size // number of shards` clips of each of
  its shards, in order. A shard's clip order (a seeded shuffle) and each
  clip's augmentation (seeded by its index in the shard) depend only on
  (seed, shard, epoch), so batch `k` of an epoch is the same whether or not
  the run was restarted, and however many processes read the shards.
  """
  mine, num_shards = shards
  shard_batch = config.batch_size // num_shards
  steps = steps_per_epoch(builder, split, config.batch_size, num_shards)
  streams = [
    _shard(builder, split, s, num_shards, config, epoch, steps) for s in mine
  ]
  # Shard after shard, `shard_batch` clips each: one host batch.
  choice = tf.data.Dataset.range(len(mine)).map(
    as_written(lambda i: tf.fill([shard_batch], i))
  )
  ds = tf.data.Dataset.choose_from_datasets(
    streams, choice.unbatch().repeat(), stop_on_empty_dataset=True
  )
  local_batch = shard_batch * len(mine)
  clip = train_frames if augments_on_device(config) else train_clip
  ds = ds.skip(skip * local_batch).map(
    as_written(lambda seed, example: clip(example, seed, config, shape)),
    tf.data.AUTOTUNE,
    deterministic=True,
  )
  return ds.batch(local_batch, drop_remainder=True).prefetch(config.prefetch)


def steps_per_epoch(builder, split, global_batch, num_shards):
  """Full global batches per epoch (every shard has at least that many)."""
  smallest = builder.info.splits[split].num_examples // num_shards
  steps = smallest // (global_batch // num_shards)
  if steps < 1:
    raise ValueError(
      f'config.batch_size: {global_batch} is larger than split {split!r} '
      f'({builder.info.splits[split].num_examples} clips).'
    )
  return steps


def to_global(batch, sharding):
  """Stitches host-local numpy leaves into global arrays over `sharding`."""
  return jax.tree.map(
    lambda x: jax.make_array_from_process_local_data(sharding, x), batch
  )


def prefetch_to_device(items, size):
  """Yields `items` while keeping the next `size` already fetched.

  With `to_global` batches this starts their host-to-device copies `size`
  steps ahead, so that they overlap the running steps (the copies are
  asynchronous); 0 passes `items` through.
  """
  queue = collections.deque()
  for item in items:
    queue.append(item)
    if len(queue) > size:
      yield queue.popleft()
  yield from queue


def _mix(batch, shards, step, num_classes, config):
  """Mixup/cutmix within each shard's part of a host batch.

  Each part is one device's slice, mixed with its own generator seeded by
  (seed, step, shard), as each PyTorch DDP rank mixes its own batch.
  """
  aug = config.augment
  parts = [np.split(batch[k], len(shards)) for k in ('video', 'label')]
  mixed = [
    augment.mix_batch(
      video,
      label,
      num_classes,
      np.random.default_rng([config.seed, step, shard]),
      aug.mixup,
      aug.cutmix,
      aug.mixup_switch_prob,
      config.label_smoothing,
    )
    for video, label, shard in zip(*parts, shards, strict=True)
  ]
  batch['video'] = np.concatenate([video for video, _ in mixed])
  batch['label'] = np.concatenate([label for _, label in mixed])


def host_batches(builder, split, config, shape, sharding, start_step, total):
  """What the host delivers for steps `start_step` .. `total` - 1.

  Global arrays over `sharding` of this process's shards of the split
  (`local_shards`): the augmented (and mixed) clips, or with
  `config.augment.on_device` the uint8 frames `device_augment` augments.

  Yields:
    (step, batch) with `video`, `label`, `au_label`, `au_valid`.
  """
  shards = local_shards(sharding)
  per_epoch = steps_per_epoch(builder, split, config.batch_size, shards[1])
  num_classes = builder.info.features['label'].num_classes
  mixes = config.augment.mixup or config.augment.cutmix
  host_mix = mixes and not augments_on_device(config)
  step = start_step
  while step < total:
    epoch, skip = divmod(step, per_epoch)
    ds = train_epoch(builder, split, config, shape, epoch, shards, skip)
    for batch in tfds.as_numpy(ds):
      if host_mix:
        _mix(batch, shards[0], step, num_classes, config)
      yield step, to_global(batch, sharding)
      step += 1
      if step >= total:
        return


def train_batches(builder, split, config, shape, sharding, start_step, total):
  """Global training batches for steps `start_step` .. `total` - 1.

  The host's batches (`host_batches`); with `config.augment.on_device`,
  `device_augment` augments the global batch of each step on the devices.
  MAE-DFER's mixup/cutmix then replaces `label` by soft targets `[B, C]`
  while the AU targets stay those of the un-mixed clip.

  Yields:
    (step, batch) with `video`, `label`, `au_label`, `au_valid`.
  """
  stream = host_batches(
    builder, split, config, shape, sharding, start_step, total
  )
  if not augments_on_device(config):
    yield from stream
    return
  num_classes = builder.info.features['label'].num_classes
  augment_on_device = device_augment.make(
    config, shape.size, num_classes, sharding
  )
  for step, batch in stream:
    yield step, augment_on_device(batch, step)


def eval_batches(builder, split, config, shape, sharding):
  """Global eval batches padded with `mask` so every clip counts once."""
  local_batch = config.eval_batch_size // jax.process_count()
  total = builder.info.splits[split].num_examples
  per_host = -(-total // jax.process_count())
  num_batches = -(-per_host // local_batch)
  mine = shard_split(builder, split, jax.process_index(), jax.process_count())
  ds = _read(builder, mine).map(
    as_written(lambda ex: eval_clip(ex, config, shape)), tf.data.AUTOTUNE
  )
  ds = ds.batch(local_batch).prefetch(config.prefetch)
  template = None
  batches = iter(tfds.as_numpy(ds))
  for _ in range(num_batches):
    batch = next(batches, None)
    if batch is None:
      batch = jax.tree.map(lambda x: x[:0], template)
    template = batch
    n = len(batch['label'])
    pad = [(0, local_batch - n)]
    batch = {
      k: np.pad(v, pad + [(0, 0)] * (v.ndim - 1)) for k, v in batch.items()
    }
    batch['mask'] = np.arange(local_batch) < n
    yield to_global(batch, sharding)
