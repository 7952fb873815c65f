"""The device augmentation (device_augment.py) against the host one
(augment.py, tf.data): the same parameter distributions (two-sample KS and
binomial tests over thousands of draws, with a wrong parameter shown to
fail), the same pixels for given parameters, the same clips whatever the
sharding, and exact resume through the pipeline."""

import dataclasses
import functools
import logging
import shutil

import clip_dataset
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
import tensorflow as tf

from audfer_jax import checkpointing
from audfer_jax import inference
from audfer_jax import models
from audfer_jax.data import augment
from audfer_jax.data import device_augment
from audfer_jax.data import input_pipeline
from audfer_jax.process import cli
from audfer_jax.training import train_loop
from configs import common
from configs import demo
from configs import dfew_former
from configs import dfew_m3dfel
from configs import dfew_mae

N = 3000  # draws per distribution
P_MIN = 1e-3  # KS p-values below this fail (the draws are seeded: no flakes)


def _settings(**kw):
  config = common.get_base_config()
  config.augment.update(kw)
  return device_augment.Settings.from_config(config, 16, 7)


def _device_params(s, height, width, n=N):
  keys = device_augment.clip_keys(0, 3, n)
  params = jax.vmap(lambda k: device_augment.draw(k, s, height, width))(keys)
  params.pop('noise', None)  # a key
  return jax.tree.map(np.asarray, params)


def _tf_seeds(n=N):
  return tf.constant(np.stack([np.arange(n), np.full(n, 7)], 1), tf.int64)


def _host_map(fn, dtype, n=N):
  """fn(seed) over `n` stateless seeds, in one graph."""
  return tf.function(
    lambda seeds: tf.map_fn(fn, seeds, fn_output_signature=dtype)
  )(_tf_seeds(n)).numpy()


def _ks(a, b):
  return stats.ks_2samp(a, b).pvalue


def _host_crops(area, aspect):
  """(y, x, h, w) of augment.random_resized_crop on a 64 x 64 ramp: the
  corners of an upsampled crop are its edge pixels exactly."""
  rows, cols = np.mgrid[:64, :64].astype(np.float32)
  ramp = tf.constant(np.stack([rows, cols], -1)[None])

  def probe(seed):
    out = augment.random_resized_crop(ramp, 65, seed, area, aspect)[0]
    y0, y1, x0, x1 = out[0, 0, 0], out[-1, 0, 0], out[0, 0, 1], out[0, -1, 1]
    return tf.stack([y0, x0, y1 - y0 + 1, x1 - x0 + 1])

  return _host_map(probe, tf.float32)


def test_crop_distribution_matches_tf():
  area, aspect = (0.08, 1.0), (3 / 4, 4 / 3)
  host = _host_crops(area, aspect)
  dev = _device_params(_settings(crop_area=area), 64, 64)['crop']

  def features(box):
    y, x, h, w = box.T.astype(float)
    # Area fraction, aspect, and the offsets within their ranges (TF's
    # exclusive upper end: y < 64 - h).
    return [h * w / 64**2, w / h, y / np.maximum(64 - h, 1), x]

  for a, b in zip(features(host), features(dev), strict=True):
    assert _ks(a, b) > P_MIN
  # Fidelity of the quirks: both crops never touch the bottom edge unless
  # they span the height.
  for box in (host, dev):
    assert np.all((box[:, 0] + box[:, 2] < 64) | (box[:, 2] == 64))
  # A wrong area range (0.12 instead of 0.08) is caught.
  wrong = _device_params(_settings(crop_area=(0.12, 1.0)), 64, 64)['crop']
  assert _ks(features(host)[0], features(wrong)[0]) < P_MIN


def _binomial_ok(flags, p):
  """|rate - p| within 4 standard errors."""
  return abs(np.mean(flags) - p) < 4 * np.sqrt(p * (1 - p) / len(flags))


def test_flip_rate_is_one_half_on_both():
  ramp = tf.constant(np.arange(4, dtype=np.float32).reshape(1, 1, 4, 1))
  host = _host_map(
    lambda seed: augment.random_flip(ramp, seed)[0, 0, 0, 0] > 0, tf.bool
  )
  dev = _device_params(_settings(), 8, 8)['flip']
  assert _binomial_ok(host, 0.5) and _binomial_ok(dev, 0.5)
  assert not _device_params(_settings(flip=False), 8, 8)['flip'].any()


def test_color_jitter_factors():
  strength = 0.4
  dev = _device_params(_settings(color_jitter=strength), 8, 8)['jitter']
  for i in range(3):
    assert stats.kstest(dev[:, i], stats.uniform(0.6, 0.8).cdf).pvalue > P_MIN
  assert stats.kstest(dev[:, 3], stats.uniform(-0.4, 0.8).cdf).pvalue > P_MIN
  # The host's brightness factor, seen on a grey pixel that the other three
  # ops leave as it is.
  grey = tf.fill([1, 1, 1, 3], 50.0)
  host = _host_map(
    lambda seed: augment.color_jitter(grey, strength, seed)[0, 0, 0, 0] / 50,
    tf.float32,
  )
  assert _ks(host, dev[:, 0]) > P_MIN
  wrong = _device_params(_settings(color_jitter=0.3), 8, 8)['jitter']
  assert _ks(host, wrong[:, 0]) < P_MIN


def _host_erasing(probability):
  """(erased, top, left, height, width) of augment.random_erasing's box on
  a zero clip (the noise is nowhere exactly 0)."""

  def probe(seed):
    out = augment.random_erasing(tf.zeros([1, 32, 32, 3]), probability, seed)
    mask = tf.reduce_any(out[0] != 0, -1)
    rows = tf.where(tf.reduce_any(mask, 1))[:, 0]
    cols = tf.where(tf.reduce_any(mask, 0))[:, 0]
    erased = tf.cast(tf.size(rows) > 0, tf.int64)
    # The first row and column (0 when none).
    top, left = tf.concat([rows, [0]], 0)[0], tf.concat([cols, [0]], 0)[0]
    return tf.stack(
      [erased, top, left, tf.size(rows, tf.int64), tf.size(cols, tf.int64)]
    )

  return _host_map(probe, tf.int64)


def test_random_erasing_distribution_matches_tf():
  host = _host_erasing(0.25)
  s = dataclasses.replace(_settings(random_erasing=0.25), size=32)
  dev = _device_params(s, 32, 32)['erase']
  assert _binomial_ok(host[:, 0], 0.25) and _binomial_ok(dev[:, 0], 0.25)
  host, dev = host[host[:, 0] > 0], dev[dev[:, 0] > 0]
  # Area, aspect and position of the erased boxes.
  for f in (
    lambda b: b[:, 3] * b[:, 4],
    lambda b: b[:, 3] / b[:, 4],
    lambda b: b[:, 1] / (33 - b[:, 3]),
  ):
    assert _ks(f(host), f(dev)) > P_MIN
  wrong = dataclasses.replace(_settings(random_erasing=0.35), size=32)
  assert not _binomial_ok(_device_params(wrong, 32, 32)['erase'][:, 0], 0.25)


def _host_lambdas(mixup, cutmix, switch, n=N):
  video = np.zeros((2, 1, 16, 16, 3), np.float32)
  out = []
  for i in range(n):
    _, soft = augment.mix_batch(
      video,
      np.array([0, 1]),
      2,
      np.random.default_rng([5, i]),
      mixup,
      cutmix,
      switch,
      0.0,
    )
    out.append(soft[0, 0])
  return np.array(out)


def _device_lambdas(mixup, cutmix, switch, n=N):
  s = _settings(mixup=mixup, cutmix=cutmix, mixup_switch_prob=switch)
  keys = jax.vmap(lambda i: device_augment.batch_key(0, i))(jnp.arange(n))
  return np.asarray(
    jax.vmap(lambda k: device_augment.mix_params(k, s, 16, 16)[1])(keys)
  )


@pytest.mark.parametrize('mixup, cutmix', [(0.8, 0.0), (0.0, 1.0), (0.8, 1.0)])
def test_mixup_lambda_matches_mix_batch(mixup, cutmix):
  host = _host_lambdas(mixup, cutmix, 0.5)
  assert _ks(host, _device_lambdas(mixup, cutmix, 0.5)) > P_MIN
  if mixup and cutmix:  # the switch probability matters
    assert _ks(host, _device_lambdas(mixup, cutmix, 0.8)) < P_MIN
  elif mixup:
    assert _ks(host, _device_lambdas(0.4, cutmix, 0.5)) < P_MIN


# -- The same pixels for given parameters ---------------------------------


def test_crop_resize_flip_equals_tf():
  rng = np.random.default_rng(0)
  video = rng.integers(0, 256, (3, 40, 48, 3)).astype(np.float32)
  crop_resize_flip = jax.jit(device_augment.crop_resize_flip, static_argnums=2)
  for box, size in [
    ((0, 0, 40, 48), 16),  # the whole frame, down
    ((5, 7, 20, 13), 56),  # up, not square
    ((39, 47, 1, 1), 4),  # one pixel
    ((2, 3, 37, 30), 31),  # down by a non-integer factor
  ]:
    y, x, h, w = box
    ref = tf.image.resize(video[:, y : y + h, x : x + w], [size, size])
    for flip in (False, True):
      got = crop_resize_flip(video, jnp.array(box), size, flip)
      want = ref.numpy()[:, :, ::-1] if flip else ref.numpy()
      np.testing.assert_allclose(got, want, atol=2e-3)


def test_color_jitter_equals_tf_ops():
  rng = np.random.default_rng(1)
  video = rng.integers(0, 256, (2, 9, 11, 3)).astype(np.float32)
  for factors in ([0.7, 1.3, 0.6, 0.35], [1.4, 0.6, 1.2, -0.4]):
    v = tf.constant(video)
    v = augment._blend(v, 0.0, factors[0])
    v = augment._blend(v, tf.reduce_mean(augment._gray(v)), factors[1])
    v = augment._blend(v, augment._gray(v), factors[2])
    want = tf.image.adjust_hue(v / 255.0, factors[3]) * 255.0
    got = jax.jit(device_augment.color_jitter)(video, jnp.array(factors))
    np.testing.assert_allclose(got, want, atol=2e-3)


def test_normalize_and_erasing_box():
  video = np.random.default_rng(2).random((2, 6, 6, 3), np.float32) * 255
  for mode in ('unit', 'imagenet'):
    np.testing.assert_allclose(
      device_augment.normalize(jnp.asarray(video), mode),
      augment.normalize(tf.constant(video), mode),
      atol=1e-6,
    )
  box = jnp.array([1, 2, 1, 3, 4])  # erase rows 2..4, columns 1..4
  out = np.asarray(
    device_augment.random_erasing(
      jnp.zeros((2, 6, 6, 3)), box, jax.random.key(0)
    )
  )
  changed = np.any(out != 0, -1)
  want = np.zeros((6, 6), bool)
  want[2:5, 1:5] = True
  assert np.all(changed == want)


def test_mix_targets_match_the_mixed_video():
  video = jnp.stack([jnp.full((2, 8, 8, 3), v) for v in (0.0, 1.0, 2.0)])
  for mixup, cutmix in ((0.8, 0.0), (0.0, 1.0)):
    s = _settings(mixup=mixup, cutmix=cutmix, mixup_switch_prob=0.0)
    s = dataclasses.replace(s, num_classes=3)
    mix = jax.jit(functools.partial(device_augment.mix, s=s))
    mixed, soft = mix(video, jnp.arange(3), jax.random.key(4))
    np.testing.assert_allclose(soft.sum(1), 1, rtol=1e-6)
    lam = float(soft[0, 0])
    np.testing.assert_allclose(float(mixed[0].mean()), 2 * (1 - lam), rtol=1e-5)
    np.testing.assert_allclose(float(soft[0, 2]), 1 - lam, rtol=1e-6)


# -- Sharding and the pipeline --------------------------------------------


def _mae_like_config():
  config = common.get_base_config()
  common.set_mae_dfer(config, sampling_rate=1, batch_size=8)
  config.augment.update(on_device=True, randaugment_n=0, color_jitter=0.4)
  return config


@pytest.fixture(scope='module')
def builder(tmp_path_factory):
  return clip_dataset.prepare(tmp_path_factory.mktemp('tfds'))


def test_clips_do_not_depend_on_the_sharding(builder):
  config = _mae_like_config()
  # A host batch of the pipeline (its leaves' shapes and types: the
  # compiled program is the one the next test runs), with noise frames.
  batch = next(
    iter(
      input_pipeline.train_epoch(
        builder, 'train', config, input_pipeline.ClipShape(4, 16), 0,
        (list(range(8)), 8),
      )
    )
  )  # fmt: skip
  batch = jax.tree.map(np.asarray, batch)
  rng = np.random.default_rng(3)
  batch['video'] = rng.integers(0, 256, batch['video'].shape, np.uint8)
  outs = []
  for n, mode in ((8, 'auto'), (2, 'explicit')):
    config.mesh_axis_type = mode
    mesh = inference.create_mesh(config, jax.devices()[:n])
    sharding = jax.NamedSharding(mesh, jax.P('data'))
    fn = device_augment.make(config, 16, 7, sharding)
    out = fn(input_pipeline.to_global(batch, sharding), 5)
    assert out['video'].sharding.is_equivalent_to(sharding, 5)
    outs.append(jax.tree.map(np.asarray, out))
  # The same parameters; the colour jitter's clip means may sum in another
  # order with more clips on a device.
  for out in outs[1:]:
    for k in outs[0]:
      np.testing.assert_allclose(out[k], outs[0][k], atol=1e-5)
  assert outs[0]['video'].shape == (8, 4, 16, 16, 3)
  assert outs[0]['label'].shape == (8, 7)  # mixup's soft targets
  again = jax.tree.map(np.asarray, fn(batch, 6))
  assert not np.array_equal(again['video'], outs[-1]['video'])


def test_train_batches_on_device_resume_exactly(builder):
  config = _mae_like_config()
  shape = input_pipeline.ClipShape(4, 16)
  sharding = jax.NamedSharding(inference.create_mesh(config), jax.P('data'))

  def batches(start):
    return [
      jax.tree.map(np.asarray, b)
      for _, b in input_pipeline.train_batches(
        builder, 'train', config, shape, sharding, start, 4
      )
    ]

  full, late = batches(0), batches(2)
  assert len(full) == 4 and len(late) == 2  # steps 2 and 3: a new epoch
  for a, b in zip(full[2:], late, strict=True):
    for k in a:
      np.testing.assert_array_equal(a[k], b[k])
  assert full[0]['video'].dtype == np.float32
  assert full[0]['video'].shape == (8, 4, 16, 16, 3)
  # What the host delivers: the 24 x 40 frames as uint8 16 x 16 squares,
  # red still 10 * clip + frame (the clips are flat colours).
  host = next(
    iter(
      input_pipeline.train_epoch(builder, 'train', config, shape, 0, ([0], 8))
    )
  )['video'].numpy()
  assert host.dtype == np.uint8 and host.shape == (1, 4, 16, 16, 3)
  red = host[0, :, 8, 8, 0].astype(int)
  assert np.all(np.diff(red) >= -1)  # frames in temporal order


def _train(config, workdir, caplog):
  """train_and_evaluate; its log lines and results."""
  caplog.clear()
  with caplog.at_level(logging.INFO):
    results = train_loop.train_and_evaluate(config, str(workdir))
  return caplog.text, results


def _checkpoint_params(workdir, step):
  model = models.create('mae_dfer_tiny', 7, rngs=nnx.Rngs(1))
  path = f'{workdir}/checkpoints/{step}'
  assert checkpointing.load_weights(model, path) == path
  return jax.tree.leaves(nnx.to_pure_dict(nnx.state(model, nnx.Param)))


def test_a_run_augmenting_on_device_resumes_exactly(builder, tmp_path, caplog):
  """Trainer end to end: 3 steps (an epoch), killed after the checkpoint
  of step 2 (its workdir without the later files), then restarted: the
  same parameters and results as the uninterrupted run."""
  config = _mae_like_config()
  config.update(
    dataset=builder.name,
    data_dir=str(builder.data_path.parent.parent),
    model='mae_dfer_tiny',
    init_from='',
    num_train_steps=3,
    eval_views=1,
    checkpoint_every_steps=2,
    log_every_steps=2,
  )
  full = tmp_path / 'full'
  log, reference = _train(config, full, caplog)
  assert (
    'Training augmentation on the devices (config.augment.on_device True)'
    in log
  )
  killed = tmp_path / 'killed'
  shutil.copytree(full, killed)
  # The first checkpoint and summaries; best/ and results come at step 3.
  shutil.rmtree(killed / 'checkpoints' / '3')
  shutil.rmtree(killed / 'best')
  (killed / 'results.json').unlink()
  log, resumed = _train(config, killed, caplog)
  assert 'Resumed from step 2.' in log
  for a, b in zip(
    _checkpoint_params(full, 3), _checkpoint_params(killed, 3), strict=True
  ):
    np.testing.assert_array_equal(a, b)
  assert resumed['final'] == reference['final']


def test_on_device_auto_augments_on_gpus_and_tpus(monkeypatch):
  config = common.get_base_config()
  assert config.augment.on_device is False  # the base: the host
  config.augment.on_device = 'auto'
  assert input_pipeline.augments_on_device(config) is False  # tests: CPU
  for backend, on_device in (('gpu', True), ('tpu', True), ('cpu', False)):
    monkeypatch.setattr(jax, 'default_backend', lambda b=backend: b)
    assert input_pipeline.augments_on_device(config) is on_device, backend
  # The default of the paper recipes and of the demo built on M3DFEL's.
  defaults = [
    m.get_config().augment.on_device
    for m in (dfew_m3dfel, demo, dfew_former, dfew_mae)
  ]
  assert defaults == ['auto'] * 4
  monkeypatch.setattr(jax, 'default_backend', lambda: 'gpu')
  config.augment.crop = 'group_multiscale'  # host only: 'auto' keeps it there
  assert input_pipeline.augments_on_device(config) is False
  config.augment.crop = 'random_resized'
  cli.check_values(config)  # with 'auto' it is no error
  monkeypatch.setattr(jax, 'default_backend', lambda: 'cpu')
  config.augment.on_device = True  # given: whatever the backend
  assert input_pipeline.augments_on_device(config) is True
  cli.check_values(config)
  for wrong in ('yes', 1):
    config.augment.on_device = wrong
    with pytest.raises(
      cli.UsageError,
      match=rf"^config.augment.on_device: {wrong!r} is not True, False or 'auto'$",
    ):
      cli.check_values(config)


def test_frame_size():
  config = common.get_base_config()
  assert device_augment.frame_size(config, 112) == 112
  config.augment.device_frame_size = 224
  assert device_augment.frame_size(config, 112) == 224
  config.augment.resize_first = True  # MAE-DFER: the clip's size first
  assert device_augment.frame_size(config, 160) == 160
  config.augment.update(resize_first=False, device_frame_size=0)
  with pytest.raises(ValueError, match='device_frame_size: 0'):
    device_augment.frame_size(config, 112)


# -- RandAugment -----------------------------------------------------------


def _levels_clip(t=3, h=20, w=24):
  """Integer levels, a different range per frame and channel."""
  rng = np.random.default_rng(5)
  frames = [rng.integers(10 * i + 5, 200 - 20 * i, (h, w, 3)) for i in range(t)]
  return np.stack(frames).astype(np.float32)


@pytest.mark.parametrize('upstream', [True, False])
def test_randaugment_ops_equal_tf(upstream):
  video = _levels_clip()
  names = device_augment.op_names(upstream)
  m = 7.3

  @jax.jit
  def device_ops(video, level):
    factor = 1 + 0.9 * level
    return {
      n: device_augment.rand_op(video, n, m, level, factor, upstream)
      for n in names
    }

  for sign in (1.0, -1.0):
    level = sign * m / 10
    ref = augment.rand_ops(
      tf.constant(video), tf.constant(m), tf.constant(level),
      tf.constant(1 + 0.9 * level), upstream,
    )  # fmt: skip
    assert list(ref) == names
    got = device_ops(jnp.asarray(video), level)
    for name, thunk in ref.items():
      want = thunk().numpy()
      if name == 'AutoContrast' and upstream:
        # float32 against PIL's float64: a level off by one, rarely.
        assert np.abs(got[name] - want).max() <= 1
        assert np.mean(got[name] != want) < 0.01
      else:
        np.testing.assert_allclose(got[name], want, atol=2e-3, err_msg=name)


def test_randaugment_selects_the_drawn_op():
  video = jnp.asarray(_levels_clip())
  names = device_augment.op_names(True)
  randaugment = jax.jit(lambda v, p: device_augment.randaugment(v, p, True))
  for j in (
    names.index('Invert'),
    names.index('Rotate'),
    names.index('Equalize'),
  ):
    params = {
      'op': jnp.array([j]),
      'apply': jnp.array([True]),
      'm': jnp.array([6.0]),
      'sign': jnp.array([-1.0]),
    }
    got = randaugment(video, params)
    want = device_augment.rand_op(video, names[j], 6.0, -0.6, 1 - 0.54, True)
    np.testing.assert_allclose(got, want, atol=1e-3)  # levels 0..255
    skipped = dict(params, apply=jnp.array([False]))
    np.testing.assert_array_equal(randaugment(video, skipped), video)


def test_randaugment_draws_follow_timm():
  s = _settings(randaugment_n=4, randaugment_m=7, randaugment_mstd=0.5)
  s = dataclasses.replace(s, randaugment_upstream=True)
  ra = _device_params(s, 8, 8)['randaugment']
  counts = np.bincount(ra['op'].ravel(), minlength=15)
  assert len(counts) == 15
  assert stats.chisquare(counts).pvalue > P_MIN  # uniform over the 15 ops
  assert _binomial_ok(ra['apply'].ravel(), 0.5)
  assert _binomial_ok(ra['sign'].ravel() > 0, 0.5)
  m = ra['m'].ravel()
  assert stats.kstest(m, stats.norm(7, 0.5).cdf).pvalue > P_MIN
  wrong = dataclasses.replace(s, randaugment_mstd=0.6)
  m_wrong = _device_params(wrong, 8, 8)['randaugment']['m'].ravel()
  assert stats.kstest(m_wrong, stats.norm(7, 0.5).cdf).pvalue < P_MIN
