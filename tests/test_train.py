"""Tests of the schedules, optimizers and the data-parallel train step."""

import importlib
import math

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from audfer_jax import inference
from audfer_jax import models
from audfer_jax.training import optim
from audfer_jax.training import train
from configs import dfew_mae
from configs import ferv39k_former
from configs import ferv39k_mae
from configs import pretrain_mae_dfer


def test_cosine_schedule_timm_without_warmup_prefix():
  # M3DFEL: base 5e-4, min 5e-6, 100 steps, 20 warmup from 0.
  lr = optim.cosine_schedule(5e-4, 100, 20, 0.0, 5e-6, warmup_prefix=False)
  assert float(lr(0)) == 0.0
  np.testing.assert_allclose(float(lr(10)), 2.5e-4, rtol=1e-6)
  # At the end of the warmup timm evaluates the cosine at t = 20 / 100.
  cos20 = 5e-6 + 0.5 * (5e-4 - 5e-6) * (1 + math.cos(math.pi * 0.2))
  np.testing.assert_allclose(float(lr(20)), cos20, rtol=1e-6)
  np.testing.assert_allclose(float(lr(20)), 4.53e-4, rtol=1e-3)
  np.testing.assert_allclose(float(lr(100)), 5e-6, rtol=1e-5)


def test_cosine_schedule_with_warmup_prefix():
  lr = optim.cosine_schedule(1.0, 110, 10, 0.1, 0.0, warmup_prefix=True)
  np.testing.assert_allclose(float(lr(5)), 0.55, rtol=1e-6)
  np.testing.assert_allclose(float(lr(10)), 1.0, rtol=1e-6)
  np.testing.assert_allclose(float(lr(60)), 0.5, rtol=1e-6)


def test_step_schedule_and_batch_scaling():
  lr = optim.step_schedule(0.01, steps_per_epoch=5, step_epochs=40, gamma=0.1)
  np.testing.assert_allclose(
    [float(lr(s)) for s in (0, 199, 200, 399, 400)],
    [0.01, 0.01, 0.001, 0.001, 0.0001],
    rtol=1e-6,
  )
  config = dfew_mae.get_config()
  assert optim.peak_learning_rate(config) == pytest.approx(1e-3 * 32 / 256)


def _reference_steps(family, w, grads):
  """PyTorch's SGD (L2 before momentum) / AdamW update rules, in numpy."""
  w = w.astype(np.float64)
  m = v = buf = 0.0
  for t, g in enumerate(grads, 1):
    if family == 'former':  # SGD lr 0.01, momentum 0.9, weight decay 1e-4
      d = g + 1e-4 * w
      buf = d if t == 1 else 0.9 * buf + d
      w = w - 0.01 * buf
    else:  # AdamW lr 5e-4, betas (0.9, 0.999), eps 1e-8, weight decay 0.05
      w = w * (1 - 5e-4 * 0.05)
      m = 0.9 * m + 0.1 * g
      v = 0.999 * v + 0.001 * g * g
      mhat, vhat = m / (1 - 0.9**t), v / (1 - 0.999**t)
      w = w - 5e-4 * mhat / (np.sqrt(vhat) + 1e-8)
  return w


def _optax_steps(tx, w0, grads):
  params = {'w': jnp.asarray(w0)}
  state = tx.init(params)
  for g in grads:
    updates, state = tx.update({'w': jnp.asarray(g)}, state, params)
    params = optax.apply_updates(params, updates)
  return np.asarray(params['w'])


@pytest.mark.parametrize('family', ['former', 'm3dfel'])
def test_optimizers_match_pytorch_rules(family):
  config = importlib.import_module(f'configs.ferv39k_{family}').get_config()
  rng = np.random.default_rng(0)
  w0 = rng.normal(size=(3, 4)).astype(np.float32)
  grads = rng.normal(size=(4, 3, 4)).astype(np.float32)
  tx = optim.create_optimizer(config, lambda step: config.learning_rate)
  np.testing.assert_allclose(
    _optax_steps(tx, w0, grads),
    _reference_steps(family, w0, grads),
    rtol=1e-5,
  )


def test_mae_weight_decay_mask_and_layer_scales():
  config = dfew_mae.get_config()
  params = {'w': np.ones((2, 2)), 'b': np.ones(2), 'pos_embed': np.ones((2, 2))}
  assert optim.decay_mask(params) == {'w': True, 'b': False, 'pos_embed': False}
  scales = {'w': 0.5, 'b': 1.0, 'pos_embed': 0.25}
  tx = optim.create_optimizer(config, lambda s: 1.0, scales)
  grads = {k: np.ones_like(v) for k, v in params.items()}
  updates, _ = tx.update(grads, tx.init(params), params)
  # First AdamW step: -lr * (1 + wd * w) for decayed, -lr for the others.
  np.testing.assert_allclose(updates['w'], -0.5 * 1.05, rtol=1e-5)
  np.testing.assert_allclose(updates['b'], -1.0, rtol=1e-5)
  np.testing.assert_allclose(updates['pos_embed'], -0.25, rtol=1e-5)


def _path(path):
  return '/'.join(str(getattr(k, 'key', k)) for k in path)


def test_pretraining_decays_what_the_authors_decay():
  """sunlicai/MAE-DFER run_mae_pretraining.py -> optim_factory.py
  `get_parameter_groups` decays every parameter but the 1-D ones, '.bias'
  names and the names `PretrainVisionTransformer.no_weight_decay()` lists,
  compared unprefixed: of its parameters, the Linear and Conv weights
  (our kernels), `mask_token` is spared and `encoder.lg_region_tokens`
  decayed (the set lists 'lg_region_tokens'); the clean rule spares it."""
  config = pretrain_mae_dfer.get_config()
  model = nnx.eval_shape(
    lambda: models.create('mae_dfer_pretrain_tiny', None, rngs=nnx.Rngs(0))
  )
  params = nnx.as_pure(nnx.state(model, nnx.Param))
  paths = [_path(p) for p, _ in jax.tree_util.tree_leaves_with_path(params)]
  kernels = {p for p in paths if p.endswith('/kernel')}
  assert {'encoder/lg_region_tokens', 'mask_token'} <= set(paths)
  for exempt, decayed in [
    ('mae_dfer_upstream', kernels | {'encoder/lg_region_tokens'}),
    ('tokens', kernels),
  ]:
    mask = optim.decay_mask(params, exempt)
    got = {_path(p) for p, m in jax.tree_util.tree_leaves_with_path(mask) if m}
    assert got == decayed, exempt
  # The recipe's optimizer: with zero gradients, AdamW's first step is
  # -lr * wd * w on the decayed parameters only.
  assert config.wd_exempt == 'mae_dfer_upstream'
  small = {
    'encoder': {'lg_region_tokens': np.ones((2, 2))},
    'mask_token': np.ones((1, 1, 2)),
  }
  tx = optim.create_optimizer(config, lambda s: 1.0)
  zeros = jax.tree.map(np.zeros_like, small)
  updates, _ = tx.update(zeros, tx.init(small), small)
  np.testing.assert_allclose(updates['encoder']['lg_region_tokens'], -0.05)
  np.testing.assert_allclose(updates['mask_token'], 0.0)


def _step_on_mesh(config, devices, batch, lr=1.0):
  """One train step on a mesh of `devices`; returns (terms, new params)."""
  mesh = inference.create_mesh(config, devices)
  model, optimizer = train.create_model_and_optimizer(
    config, 7, lambda s: lr, mesh
  )
  with jax.set_mesh(mesh):
    sharded = jax.device_put(batch, jax.NamedSharding(mesh, jax.P('data')))
    step = train.make_train_step(
      config,
      np.full((7, 18), 0.5, np.float32),
      np.full(18, 2.0, np.float32),
      model,
      optimizer,
    )
    state, terms = step(nnx.state((model, optimizer)), sharded, 0)
    nnx.update((model, optimizer), state)
    new = jax.tree.map(
      np.asarray, nnx.to_pure_dict(nnx.state(model, nnx.Param))
    )
    return jax.tree.map(np.asarray, terms), new, sharded


# MAE-DFER: the data-parallel gradient must be the 1-device one up to float
# rounding. (BatchNorm models show up to 1% differences on a few BN biases:
# flax's BatchNorm uses the fast E[x^2] - E[x]^2 variance, whose cancellation
# amplifies reduction-order noise; their losses still agree to 1e-6.)
def test_one_step_on_8_devices_equals_1_device():
  config = ferv39k_mae.get_config()
  config.model = 'mae_dfer_tiny'
  config.layer_decay = 0.0
  config.augment.mixup = config.augment.cutmix = 0.0
  # Plain SGD: the parameter change is lr * gradient, so this compares the
  # gradients themselves (Adam's first step is ~lr * sign(g), which turns
  # rounding noise on near-zero gradients into full-size differences).
  config.optimizer, config.momentum, config.weight_decay = 'sgd', 0.0, 0.0
  rng = np.random.default_rng(0)
  batch = {
    'video': rng.uniform(size=(8, 8, 32, 32, 3)).astype(np.float32),
    'label': np.arange(8) % 7,
    'au_label': rng.integers(0, 2, (8, 18)).astype(np.float32),
    'au_valid': np.arange(8) != 3,
  }
  assert jax.device_count() == 8
  terms8, params8, sharded = _step_on_mesh(config, jax.devices(), batch)
  assert len(sharded['video'].sharding.device_set) == 8
  terms1, params1, _ = _step_on_mesh(config, jax.devices()[:1], batch)
  assert terms8['finite'] and np.isfinite(terms8['loss'])
  for k in ('loss', 'expr_loss', 'au_loss'):
    np.testing.assert_allclose(terms8[k], terms1[k], rtol=1e-5, atol=1e-6)
  init = nnx.to_pure_dict(
    nnx.state(inference.create_model(config, 7), nnx.Param)
  )
  g8, g1 = (
    np.concatenate(
      [
        np.ravel(a) - np.ravel(b)
        for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(init), strict=True)
      ]
    )
    for p in (params8, params1)
  )
  assert np.linalg.norm(g1) > 0.1
  np.testing.assert_allclose(g8, g1, rtol=1e-4, atol=1e-6 * np.abs(g1).max())


def _param_change(params, init):
  return np.concatenate(
    [
      np.ravel(a) - np.ravel(b)
      for a, b in zip(
        jax.tree.leaves(params), jax.tree.leaves(init), strict=True
      )
    ]
  )


# BatchNorm model (global-batch statistics): the losses agree to float
# rounding, but a few BN-bias gradients are sums of nearly cancelling terms
# and move by up to ~1% with the reduction order. Measured for this batch: a
# relative L2 difference of 4.5e-3 over all parameters between 8 devices and
# 1, and the same 4.5e-3 between two orderings of the batch on ONE device.
# Per-device BN statistics would change the loss itself, and summed instead
# of averaged gradients would be 8 times too large.
def test_batchnorm_model_on_8_devices_equals_1_device():
  config = ferv39k_former.get_config()
  config.model = 'former_dfer_tiny'
  config.optimizer, config.momentum, config.weight_decay = 'sgd', 0.0, 0.0
  shape = inference.clip_shape(config)
  rng = np.random.default_rng(0)
  batch = {
    'video': rng.uniform(
      size=(8, shape.num_frames, shape.size, shape.size, 3)
    ).astype(np.float32),
    'label': np.arange(8) % 7,
    'au_label': rng.integers(0, 2, (8, 18)).astype(np.float32),
    'au_valid': np.arange(8) != 3,
  }
  init = nnx.to_pure_dict(
    nnx.state(inference.create_model(config, 7), nnx.Param)
  )
  terms8, params8, _ = _step_on_mesh(config, jax.devices(), batch)
  terms1, params1, _ = _step_on_mesh(config, jax.devices()[:1], batch)
  for k in ('loss', 'expr_loss', 'au_loss'):
    np.testing.assert_allclose(terms8[k], terms1[k], rtol=1e-5, atol=1e-6)
  g8, g1 = (_param_change(p, init) for p in (params8, params1))
  assert np.linalg.norm(g1) > 0.1
  assert np.linalg.norm(g8 - g1) < 1e-2 * np.linalg.norm(g1)
