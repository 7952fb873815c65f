"""TFDS -> tf.data -> globally sharded `jax.Array` batches.

Each host reads its own part of a split (`tfds.split_for_jax_process`),
decodes only the sampled frames, augments them with stateless random ops
seeded by (seed, process, epoch, example index), and the host batches are
stitched into global arrays sharded over the `data` mesh axis. The training
stream for a step is a pure function of (seed, step), which makes resume
exact: a restarted run skips to its step without reading the skipped clips'
frames.
"""

import collections
import dataclasses
import os
import sys
import time

from absl import logging
import jax
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from audfer_jax import augment
from audfer_jax import video_sampling
import tfds_builders  # registers the builders with TFDS
from tfds_builders import prepare

# Datasets small and synthetic enough to prepare on the fly.
_AUTO_PREPARE = ('au_faces',)


@dataclasses.dataclass(frozen=True)
class ClipShape:
  """What the model takes: `num_frames` frames of `size` x `size` pixels."""

  num_frames: int
  size: int


def resolve_splits(config):
  """(train, test) split strings; both '' select fold `config.fold`."""
  if config.train_split or config.test_split:
    return config.train_split, config.test_split
  try:
    return tfds_builders.fold_splits(config.fold)
  except ValueError as e:
    raise ValueError(f'config.fold: {e}') from None


def get_builder(config):
  """The prepared TFDS builder of `config.dataset`.

  au_faces is prepared on first use; the real datasets are prepared when
  `config.manual_dir` holds their raw files, otherwise the error says how.
  """
  data_dir = os.path.expanduser(config.data_dir)
  try:
    builder = tfds.builder(config.dataset, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError:
    raise ValueError(
      f'config.dataset: unknown dataset {config.dataset!r}; the builders are '
      f'{sorted(n for n in tfds.list_builders() if n in prepare.DATASETS)} '
      "(as 'name' or 'name/config')."
    ) from None
  if builder.is_prepared():
    return builder
  name = config.dataset.split('/')[0]
  if name in _AUTO_PREPARE or config.manual_dir:
    download_config = tfds.download.DownloadConfig(
      manual_dir=config.manual_dir or None
    )
    logging.info(
      'Preparing %s in %s (once; au_faces takes about a minute) ...',
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


def train_clip(example, seed, config, shape):
  """One augmented training clip: video [T, S, S, 3] float + targets."""
  s = augment.split_seed(seed, 6)
  n = tf.shape(example['video'])[0]
  if config.sampling == 'window':
    idx = video_sampling.window_indices(
      n, shape.num_frames, config.sampling_rate, s[0]
    )
  else:
    k = config.frames_per_segment
    idx = video_sampling.segment_indices(n, shape.num_frames // k, k, s[0])
  video = _center_crop(_decode(example['video'], idx), config.center_crop)
  video = tf.cast(video, tf.float32)
  aug = config.augment
  if aug.resize_first:
    video = tf.image.resize(video, [shape.size, shape.size])
  if aug.randaugment_n:
    video = augment.randaugment(
      video, aug.randaugment_n, aug.randaugment_m, aug.randaugment_mstd, s[1]
    )
  video = augment.random_resized_crop(
    video, shape.size, s[2], tuple(aug.crop_area), tuple(aug.crop_aspect)
  )
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


def eval_views(frames, config, shape):
  """The evaluation's deterministic views of a clip's JPEG frames [n]:
  video [V, T, S, S, 3] float (also what `audfer_jax.predict` feeds)."""
  n = tf.shape(frames)[0]
  t = shape.num_frames
  if config.sampling == 'window':
    idx = video_sampling.strided_views(
      n, t, config.sampling_rate, config.eval_views
    )
  else:
    k = config.frames_per_segment
    idx = video_sampling.segment_indices(n, t // k, k)[None]
  views = tf.shape(idx)[0]
  video = _decode(frames, tf.reshape(idx, [-1]))
  video = _center_crop(video, config.center_crop)
  video = _resize_eval(
    tf.cast(video, tf.float32), shape.size, config.eval_resize
  )
  video = augment.normalize(video, config.normalize)
  return tf.reshape(video, [views, t, shape.size, shape.size, 3])


def eval_clip(example, config, shape):
  """Deterministic views of one clip: video [V, T, S, S, 3] + targets."""
  video = eval_views(example['video'], config, shape)
  return {'video': video, **_targets(example)}


def _read(builder, split):
  return builder.as_dataset(
    split=tfds.split_for_jax_process(split),
    shuffle_files=False,
    decoders={'video': tfds.decode.SkipDecoding()},
    read_config=tfds.ReadConfig(try_autocache=False),
  )


def train_epoch(builder, split, config, shape, epoch, local_batch, skip=0):
  """This host's batches of one training epoch, from batch `skip` on.

  The clip order (a seeded shuffle) and each clip's augmentation (seeded by
  its index in the host's split) depend only on (seed, process, epoch), so
  batch `k` of an epoch is the same whether or not the run was restarted.
  """
  ds = _read(builder, split).enumerate()
  shuffle_seed = config.seed * 100_003 + epoch * 1009 + jax.process_index()
  ds = ds.shuffle(
    config.shuffle_buffer_size,
    seed=shuffle_seed,
    reshuffle_each_iteration=False,
  )
  base = tf.constant([config.seed, jax.process_index()], tf.int64)

  def prepare(index, example):
    seed = tf.random.experimental.stateless_fold_in(
      base, epoch * 100_000_000 + index
    )
    return train_clip(example, seed, config, shape)

  steps = steps_per_epoch(builder, split, local_batch * jax.process_count())
  ds = ds.take(steps * local_batch).skip(skip * local_batch)
  ds = ds.map(prepare, tf.data.AUTOTUNE, deterministic=True)
  return ds.batch(local_batch, drop_remainder=True).prefetch(config.prefetch)


def steps_per_epoch(builder, split, global_batch):
  """Full global batches per epoch (every host has at least that many)."""
  per_host = builder.info.splits[split].num_examples // jax.process_count()
  steps = per_host // (global_batch // jax.process_count())
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


def train_batches(builder, split, config, shape, sharding, start_step, total):
  """Global training batches for steps `start_step` .. `total` - 1.

  MAE-DFER's mixup/cutmix runs here on each host batch, seeded by (seed,
  step, process); it then replaces `label` by soft targets `[B, C]` while the
  AU targets stay those of the un-mixed clip.

  Yields:
    (step, batch) with `video`, `label`, `au_label`, `au_valid`.
  """
  local_batch = config.batch_size // jax.process_count()
  per_epoch = steps_per_epoch(builder, split, config.batch_size)
  num_classes = builder.info.features['label'].num_classes
  aug = config.augment
  step = start_step
  while step < total:
    epoch, skip = divmod(step, per_epoch)
    ds = train_epoch(builder, split, config, shape, epoch, local_batch, skip)
    for batch in tfds.as_numpy(ds):
      if aug.mixup or aug.cutmix:
        rng = np.random.default_rng([config.seed, step, jax.process_index()])
        batch['video'], batch['label'] = augment.mix_batch(
          batch['video'],
          batch['label'],
          num_classes,
          rng,
          aug.mixup,
          aug.cutmix,
          aug.mixup_switch_prob,
          config.label_smoothing,
        )
      yield step, to_global(batch, sharding)
      step += 1
      if step >= total:
        return


def eval_batches(builder, split, config, shape, sharding):
  """Global eval batches padded with `mask` so every clip counts once."""
  local_batch = config.eval_batch_size // jax.process_count()
  total = builder.info.splits[split].num_examples
  per_host = -(-total // jax.process_count())
  num_batches = -(-per_host // local_batch)
  ds = _read(builder, split).map(
    lambda ex: eval_clip(ex, config, shape), tf.data.AUTOTUNE
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
