"""Tests of temporal sampling, augmentation and the tf.data -> jax pipeline."""

import io
import math
import pathlib
import shlex
import subprocess

import clip_dataset
import jax
import numpy as np
from PIL import Image
from PIL import ImageOps
import pytest
import tensorflow as tf

from audfer_jax.data import annotations
from audfer_jax.data import augment
from audfer_jax.data import input_pipeline
from audfer_jax.data import video_sampling
from configs import common
from tfds_builders.dfew import dfew_dataset_builder

SEED = tf.constant([1, 2], tf.int64)


@pytest.fixture(scope='module')
def builder(tmp_path_factory):
  return clip_dataset.prepare(tmp_path_factory.mktemp('tfds'))


def _config(**kw):
  config = common.get_base_config()
  config.update(dict(batch_size=8, eval_batch_size=8, frames_per_segment=2))
  config.update(kw)
  return config


def test_segment_indices_eval_are_segment_centres():
  # n = 32, 8 segments x 2 frames: span 31, segment length 3.875.
  got = video_sampling.segment_indices(tf.constant(32), 8, 2).numpy()
  first = [math.floor(i * 3.875 + (3.875 - 1) / 2) for i in range(8)]
  np.testing.assert_array_equal(got, [f + d for f in first for d in (0, 1)])
  # 16 frames, 16 x 1: every frame once, in order.
  got = video_sampling.segment_indices(tf.constant(16), 16, 1).numpy()
  np.testing.assert_array_equal(got, np.arange(16))


def test_segment_indices_train_stay_in_their_segment():
  for s in range(20):
    idx = video_sampling.segment_indices(tf.constant(50), 8, 2, SEED + s)
    idx = idx.numpy().reshape(8, 2)
    length = 49 / 8
    assert np.all(idx[:, 1] == idx[:, 0] + 1)
    assert np.all(idx[:, 0] >= np.floor(np.arange(8) * length))
    assert np.all(idx[:, 0] < np.arange(1, 9) * length)
  again = video_sampling.segment_indices(tf.constant(50), 8, 2, SEED + 19)
  np.testing.assert_array_equal(idx.ravel(), again.numpy())


def test_segment_indices_short_clip_repeat_frames():
  idx = video_sampling.segment_indices(tf.constant(3), 8, 2).numpy()
  assert idx.min() >= 0 and idx.max() == 2 and len(idx) == 16


def test_window_indices():
  idx = video_sampling.window_indices(tf.constant(100), 16, 4, SEED).numpy()
  steps = np.diff(idx)
  assert len(idx) == 16 and np.all((steps >= 3) & (steps <= 5))
  assert idx[-1] - idx[0] <= 63 and idx[-1] < 100
  short = video_sampling.window_indices(tf.constant(10), 16, 4, SEED).numpy()
  np.testing.assert_array_equal(short, np.linspace(0, 9, 16).astype(int))


def test_strided_views_first_and_last_clip():
  views = video_sampling.strided_views(tf.constant(100), 16, 4, 2).numpy()
  np.testing.assert_array_equal(views[0], np.arange(0, 64, 4))
  np.testing.assert_array_equal(views[1], np.arange(36, 100, 4))
  short = video_sampling.strided_views(tf.constant(40), 16, 4, 2).numpy()
  padded = list(range(0, 40, 4)) + [36] * 6
  np.testing.assert_array_equal(short, [padded, padded])


def test_resolve_splits_folds():
  config = _config(
    dataset='dfew', train_split='fold', test_split='fold', fold=2
  )
  assert input_pipeline.resolve_splits(config) == (
    'set_1+set_3+set_4+set_5',
    'set_2',
  )
  # What older runs stored in their config.json means the same.
  config.train_split = config.test_split = ''
  assert input_pipeline.resolve_splits(config) == (
    'set_1+set_3+set_4+set_5',
    'set_2',
  )
  config.fold = 6
  with pytest.raises(ValueError, match='config.fold'):
    input_pipeline.resolve_splits(config)


def _pil_video(frame):
  return tf.constant(np.asarray(frame, np.float32)[None])


def test_pixel_ops_match_pil():
  rng = np.random.default_rng(0)
  img = Image.fromarray(rng.integers(20, 200, (12, 10, 3), dtype=np.uint8))
  video = _pil_video(img)
  np.testing.assert_array_equal(
    augment._posterize(video, 5.0)[0], np.asarray(ImageOps.posterize(img, 2))
  )
  np.testing.assert_array_equal(
    augment._solarize(video, 128.0)[0], np.asarray(ImageOps.solarize(img, 128))
  )
  ref = np.asarray(ImageOps.autocontrast(img), np.float32)
  np.testing.assert_allclose(augment._autocontrast(video)[0], ref, atol=1.01)


def test_translate_and_shear_match_pil():
  rng = np.random.default_rng(1)
  img = Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8))
  # Level 2 / (0.45 * 30): a 2-pixel shift; PIL maps output to input alike.
  got = augment._translate(_pil_video(img), 2 / 13.5, 0)[0].numpy()
  ref = np.asarray(img.transform(img.size, Image.AFFINE, (1, 0, 2, 0, 1, 0)))
  np.testing.assert_allclose(got[:, :28], ref[:, :28], atol=1e-3)
  # Pixels from outside the image get timm's fill (ImageNet mean colour).
  np.testing.assert_allclose(
    got[:, 28:], np.broadcast_to([124, 116, 104], (20, 2, 3))
  )
  # ShearY with k = 0.1 (level 1/3) maps output (x, y) to input
  # (x, y + 0.1 (x + 1/2)), PIL's convention (pixel centres at + 1/2): a
  # ramp `value = y` becomes y + 0.1 (x + 1/2).
  ramp = np.broadcast_to(np.arange(20.0)[:, None, None], (20, 30, 3))
  got = augment._shear(tf.constant(ramp[None], tf.float32), 1 / 3, 1)
  y, x = np.mgrid[:10, :30]
  np.testing.assert_allclose(got[0, :10, :, 0], y + 0.1 * (x + 0.5), atol=1e-4)


def test_randaugment_and_erasing_are_seeded():
  video = tf.random.stateless_uniform([4, 16, 16, 3], SEED, 0, 255)
  a = augment.randaugment(video, 4, 7, 0.5, SEED)
  b = augment.randaugment(video, 4, 7, 0.5, SEED)
  np.testing.assert_array_equal(a, b)
  assert a.shape == video.shape
  assert float(tf.reduce_min(a)) >= 0 and float(tf.reduce_max(a)) <= 255
  erased = augment.random_erasing(tf.zeros([4, 16, 16, 3]), 1.0, SEED).numpy()
  changed = np.any(erased != 0, axis=-1)
  # One box, the same in every frame, covering 2%..1/3 of the image.
  assert np.all(changed == changed[0])
  assert 0.02 * 256 - 16 <= changed[0].sum() <= 256 / 3 + 16


def test_mix_batch_targets_match_the_mixed_video():
  rng = np.random.default_rng(3)
  video = np.stack([np.full((2, 8, 8, 3), v, np.float32) for v in (0, 1, 2)])
  label = np.array([0, 1, 2])
  for cutmix in (0.0, 1.0):
    mixed, soft = augment.mix_batch(
      video, label, 3, rng, 0.8, cutmix, 1.0 if cutmix else 0.0, 0.0
    )
    np.testing.assert_allclose(soft.sum(1), 1, rtol=1e-6)
    # Clip 0 is mixed with clip 2: its mean pixel is 2 * (1 - lam).
    lam = soft[0, 0]
    np.testing.assert_allclose(mixed[0].mean(), 2 * (1 - lam), rtol=1e-5)
    np.testing.assert_allclose(soft[0, 2], 1 - lam, rtol=1e-6)


def test_label_smoothing_in_mix_targets():
  video = np.zeros((2, 1, 4, 4, 3), np.float32)
  _, soft = augment.mix_batch(
    video, np.array([1, 1]), 4, np.random.default_rng(0), 0.8, 0, 0, 0.1
  )
  np.testing.assert_allclose(soft[0], [0.025, 0.925, 0.025, 0.025], rtol=1e-6)


def test_train_epoch_resumes_at_any_batch(builder):
  config = _config()
  shape = input_pipeline.ClipShape(8, 16)
  one = ([0], 1)
  full = list(
    input_pipeline.train_epoch(builder, 'train', config, shape, 1, one)
  )
  late = list(
    input_pipeline.train_epoch(builder, 'train', config, shape, 1, one, skip=1)
  )
  assert len(full) == 3 and len(late) == 2
  for a, b in zip(full[1:], late, strict=True):
    for k in a:
      np.testing.assert_array_equal(a[k], b[k])
  # A shuffle: every clip once per epoch, another order in another epoch.
  seen = np.concatenate([b['au_label'].numpy() for b in full])
  ids = (seen * 2 ** np.arange(18)).sum(1)
  assert sorted(ids) == list(range(clip_dataset.NUM_TRAIN))
  other = input_pipeline.train_epoch(builder, 'train', config, shape, 2, one)
  other_ids = (next(iter(other))['au_label'].numpy() * 2 ** np.arange(18)).sum(
    1
  )
  assert list(other_ids) != list(ids[:8])


def _clip_ids(batches):
  labels = np.concatenate([b['au_label'].numpy() for b in batches])
  return (labels * 2 ** np.arange(18)).sum(1).astype(int)


def test_hosts_read_their_own_shards_and_make_the_same_batches(builder):
  # 24 clips in 4 shards of 6 (one per device), 2 clips of each a batch.
  config = _config()
  shape = input_pipeline.ClipShape(4, 16)

  def epoch(shards, skip=0):
    return list(
      input_pipeline.train_epoch(builder, 'train', config, shape, 0, shards)
    )[skip:]

  one_host = epoch(([0, 1, 2, 3], 4))
  hosts = [epoch(([0, 1], 4)), epoch(([2, 3], 4))]
  assert len(one_host) == 3 and [len(h) for h in hosts] == [3, 3]
  # Each host batch is the first or the second half of the global batch.
  for k, batch in enumerate(one_host):
    for key in batch:
      np.testing.assert_array_equal(
        batch[key].numpy(),
        np.concatenate([hosts[0][k][key].numpy(), hosts[1][k][key].numpy()]),
      )
  # The hosts read disjoint halves of the split (shard_split: clips
  # 0-11 and 12-23 in the split's order), together every clip once.
  seen = [set(_clip_ids(h)) for h in hosts]
  assert len(seen[0]) == len(seen[1]) == 12 and not seen[0] & seen[1]
  order = _clip_ids(
    input_pipeline._read(builder, 'train')
    .map(lambda ex: {'au_label': ex['au_label']})
    .batch(24)
  )
  assert seen[0] == set(order[:12]) and seen[1] == set(order[12:])
  # Within a batch, shard s gives the clips at 2s, 2s + 1: from its sixth.
  first = _clip_ids(one_host[:1])
  for s in range(4):
    assert set(first[2 * s : 2 * s + 2]) <= set(order[6 * s : 6 * s + 6])


def test_shard_split_divides_the_parts_laid_end_to_end(builder):
  # 10 clips (5 + 5) in 4 shards: [0, 2), [2, 5), [5, 7), [7, 10) of the
  # two parts laid end to end (k * 10 // 4); tfds.even_splits would cut
  # each part in 4 on its own.
  split = 'train[:5]+test[:5]'
  shards = [input_pipeline.shard_split(builder, split, k, 4) for k in range(4)]
  assert shards == ['train[0:2]', 'train[2:5]', 'test[0:2]', 'test[2:5]']
  # 3 shards: [0, 3), [3, 6), [6, 10); the middle one spans both parts.
  assert input_pipeline.shard_split(builder, split, 1, 3) == (
    'train[3:5]+test[0:1]'
  )

  def ids(split):
    ds = input_pipeline._read(builder, split)
    batches = ds.map(lambda ex: {'au_label': ex['au_label']}).batch(10)
    return list(_clip_ids(batches))

  assert sum((ids(s) for s in shards), []) == ids(split)
  with pytest.raises(ValueError, match="'train\\[:3\\]' has 3 clips, fewer"):
    input_pipeline.shard_split(builder, 'train[:3]', 0, 4)


def test_mixup_per_shard_does_not_depend_on_the_hosts():
  config = _config()
  config.augment.update(mixup=0.8, cutmix=1.0)
  rng = np.random.default_rng(0)
  batch = {
    'video': rng.random((8, 2, 4, 4, 3), np.float32),
    'label': np.arange(8) % 7,
  }
  whole = dict(batch)
  input_pipeline._mix(whole, [0, 1, 2, 3], 5, 7, config)
  halves = [
    {k: v[:4] for k, v in batch.items()},
    {k: v[4:] for k, v in batch.items()},
  ]
  input_pipeline._mix(halves[0], [0, 1], 5, 7, config)
  input_pipeline._mix(halves[1], [2, 3], 5, 7, config)
  for key in whole:
    np.testing.assert_array_equal(
      whole[key], np.concatenate([halves[0][key], halves[1][key]])
    )
  # Clips mix within their shard's pair: clip 0 with clip 1, not clip 7.
  assert set(np.nonzero(whole['label'][0])[0]) <= {0, 1}


def test_train_frames_are_ordered_and_normalised(builder):
  config = _config(normalize='imagenet')
  shape = input_pipeline.ClipShape(8, 16)
  batch = next(
    iter(
      input_pipeline.train_epoch(builder, 'train', config, shape, 0, ([0], 1))
    )
  )
  red = batch['video'].numpy()[:, :, 8, 8, 0] * 0.229 + 0.485
  assert batch['video'].shape == (8, 8, 16, 16, 3)
  # Red is 10 * clip + frame (clips < 25): frames come in temporal order.
  assert np.all(np.diff(np.round(red * 255)) >= -1)


def test_eval_batches_count_every_clip_once(builder):
  mesh = jax.make_mesh((8,), ('data',))
  sharding = jax.NamedSharding(mesh, jax.P('data'))
  config = _config(eval_resize='short_side_crop')
  shape = input_pipeline.ClipShape(4, 16)
  batches = list(
    input_pipeline.eval_batches(builder, 'test', config, shape, sharding)
  )
  assert len(batches) == 2
  assert batches[0]['video'].shape == (8, 1, 4, 16, 16, 3)
  assert batches[0]['video'].sharding == sharding
  mask = np.concatenate([np.asarray(b['mask']) for b in batches])
  labels = np.concatenate([np.asarray(b['au_label']) for b in batches])
  ids = (labels[mask] * 2 ** np.arange(18)).sum(1)
  assert mask.sum() == clip_dataset.NUM_TEST
  assert sorted(ids) == sorted(
    (1000 + j) & (2**18 - 1) for j in range(clip_dataset.NUM_TEST)
  )
  again = list(
    input_pipeline.eval_batches(builder, 'test', config, shape, sharding)
  )
  np.testing.assert_array_equal(batches[1]['video'], again[1]['video'])


def test_read_labels(builder):
  labels = annotations.read_labels(builder, 'train')
  order = np.argsort((labels['au_label'] * 2 ** np.arange(18)).sum(1))
  np.testing.assert_array_equal(labels['label'][order], np.arange(24) % 7)
  np.testing.assert_array_equal(
    labels['au_valid'][order], np.arange(24) % 5 != 0
  )


def test_missing_dataset_suggests_a_command_that_prepares_it(tmp_path):
  config = _config(dataset='dfew/clip_224x224', data_dir=str(tmp_path))
  with pytest.raises(FileNotFoundError) as error:
    input_pipeline.get_builder(config)
  suggested = str(error.value).split('or with: ', 1)[1]
  assert '/path/to/raw/dfew' in suggested
  # Run the suggestion as printed, on the builder's dummy raw files.
  raw = pathlib.Path(dfew_dataset_builder.__file__).parent / 'dummy_data'
  argv = shlex.split(suggested.replace('/path/to/raw/dfew', str(raw)))
  out = subprocess.run(argv, capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  builder = input_pipeline.get_builder(config)
  # The dummy DFEW: 7 clips in its 5 test sets (datasets/tests/test_dfew.py).
  assert builder.info.splits.total_num_examples == 7
  assert str(tmp_path) in out.stdout


def test_prefetch_to_device_keeps_size_items_fetched_ahead():
  fetched = []

  def items():
    for i in range(6):
      fetched.append(i)
      yield i

  seen = []
  for item in input_pipeline.prefetch_to_device(items(), 2):
    # When item i is handed out, items up to i + 2 have been fetched.
    assert fetched[-1] == min(item + 2, 5)
    seen.append(item)
  assert seen == list(range(6))
  assert list(input_pipeline.prefetch_to_device(iter('abc'), 0)) == list('abc')


def test_validation_holdout_is_stratified_seeded_and_disjoint(tmp_path):
  config = _config(dataset='au_faces/tiny', data_dir=str(tmp_path))
  tiny = input_pipeline.get_builder(config)
  labels = input_pipeline.split_labels(tiny, 'train')
  assert len(labels) == tiny.info.splits['train'].num_examples == 42
  counts = np.bincount(labels)
  held = input_pipeline.validation_holdout(labels, 0.25, 42)
  # Per class round(0.25 * n) of its n clips, written out from the counts.
  expected = [int(round(0.25 * n)) for n in counts if n]
  assert list(np.bincount(labels[held])[counts > 0]) == expected
  assert len(set(held.tolist())) == len(held) == sum(expected)
  np.testing.assert_array_equal(
    held, input_pipeline.validation_holdout(labels, 0.25, 42)
  )
  assert set(held.tolist()) != set(
    input_pipeline.validation_holdout(labels, 0.25, 43).tolist()
  )
  train, val = input_pipeline.hold_out_validation(tiny, 'train', 0.25, 42)
  splits = tiny.info.splits
  assert splits[val].num_examples == len(held)
  assert splits[train].num_examples == 42 - len(held)
  # The split strings read the held-out clips and the rest: disjoint, all.
  np.testing.assert_array_equal(
    input_pipeline.split_labels(tiny, val), labels[held]
  )
  rest = np.setdiff1d(np.arange(42), held)
  np.testing.assert_array_equal(
    input_pipeline.split_labels(tiny, train), labels[rest]
  )
  # The shards of the rest cover it once.
  shards = [input_pipeline.shard_split(tiny, train, k, 4) for k in range(4)]
  got = np.concatenate([input_pipeline.split_labels(tiny, s) for s in shards])
  np.testing.assert_array_equal(got, labels[rest])
  with pytest.raises(ValueError, match='holds out 0 clips'):
    input_pipeline.hold_out_validation(tiny, 'train', 0.001, 42)


def _textured_jpegs(n, height, width, subsampling):
  """`n` JPEG frames (PIL, quality 90) whose colours vary from pixel to
  pixel, so that chroma upsampling matters; subsampling 0: 4:4:4, 1:
  4:2:2, 2: 4:2:0."""
  rng = np.random.default_rng(subsampling)
  y, x = np.mgrid[:height, :width]
  frames = []
  for i in range(n):
    smooth = np.stack([x * 2 + i, y * 3, (x + y) * 1.5], -1)
    pixels = np.clip(smooth + rng.normal(0, 40, smooth.shape), 0, 255)
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(
      buffer, format='JPEG', quality=90, subsampling=subsampling
    )
    frames.append(buffer.getvalue())
  return frames


def _example(frames):
  return {
    'video': tf.constant(frames),
    'label': tf.constant(0, tf.int64),
    'au_label': tf.zeros([18], tf.int64),
    'au_valid': tf.constant(True),
  }


@pytest.mark.parametrize(
  'kw',
  [
    # M3DFEL: the crop is decoded from each frame's crop window.
    dict(sampling='segments', frames_per_segment=1),
    # MAE-DFER: whole frames, resized, RandAugment, then the crop.
    dict(sampling='window', sampling_rate=2, center_crop=0.9),
  ],
)
def test_train_clip_decodes_only_the_sampled_frames(kw):
  config = _config(**kw)
  if kw['sampling'] == 'window':
    config.augment.update(resize_first=True, randaugment_n=2)
  shape = input_pipeline.ClipShape(8, 24)
  frames = _textured_jpegs(40, 48, 40, 2)
  s = augment.split_seed(SEED, 6)
  sampled = set(
    input_pipeline._train_indices(tf.constant(40), config, 8, s[0]).numpy()
  )
  assert len(sampled) <= 8
  # The frames not sampled are not JPEG: decoding any of them would fail.
  broken = [f if i in sampled else b'not a jpeg' for i, f in enumerate(frames)]
  got = input_pipeline.train_clip(_example(broken), SEED, config, shape)
  want = input_pipeline.train_clip(_example(frames), SEED, config, shape)
  np.testing.assert_array_equal(got['video'], want['video'])
  first = min(sampled)
  broken[first] = b'not a jpeg'
  with pytest.raises(tf.errors.InvalidArgumentError):
    input_pipeline.train_clip(_example(broken), SEED, config, shape)


@pytest.mark.parametrize('subsampling', [0, 1, 2])
def test_crop_decoding_gives_the_pixels_of_decode_then_crop(
  subsampling, monkeypatch
):
  frames = tf.constant(_textured_jpegs(3, 72, 96, subsampling))
  aug = _config().augment
  idx = tf.constant([2, 0])

  def both(seed):
    decoded = tf.cast(input_pipeline._decode(frames, idx), tf.float32)
    want = augment.random_resized_crop(
      decoded, 32, seed, tuple(aug.crop_area), tuple(aug.crop_aspect)
    )
    got = input_pipeline._decode_crop(frames, idx, seed, 32, aug)
    return got.numpy(), want.numpy()

  for k in range(20):
    np.testing.assert_array_equal(*both(SEED + k))
  # Without the margin, the subsampled chroma at the window's left and right
  # edges differs: the margin is what makes the pixels equal.
  monkeypatch.setattr(input_pipeline, '_CROP_MARGIN', 0)
  worst = max(np.abs(np.subtract(*both(SEED + k))).max() for k in range(20))
  assert (worst > 1) == (subsampling > 0), worst


def test_group_multiscale_crop_decoding_gives_decode_then_crop():
  """MAE-DFER's pre-training crop decodes its window alone too, also where
  the window passes the edges of a frame whose short side is 31 px (the
  32-px side at negative offsets, `augment.crop_padded`)."""
  aug = _config().augment
  aug.crop = 'group_multiscale'
  idx = tf.constant([1, 0])
  for height, width in [(31, 48), (72, 56)]:
    frames = tf.constant(_textured_jpegs(2, height, width, 2))
    decoded = tf.cast(input_pipeline._decode(frames, idx), tf.float32)
    padded = 0
    for k in range(12):
      s = augment.split_seed(SEED + k, 6)
      begin, _ = input_pipeline._crop_window([height, width, 3], s[2], 32, aug)
      padded += int(min(begin[0], begin[1]) < 0)
      np.testing.assert_array_equal(
        input_pipeline._decode_crop(frames, idx, s[2], 32, aug),
        input_pipeline._augment_frames(decoded, s, 32, aug),
      )
    assert padded > 0 if height == 31 else padded == 0
