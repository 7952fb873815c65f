"""Tests for the AU-DFER loss (audfer_jax.method.loss) against PyTorch."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from audfer_jax.method import knowledge
from audfer_jax.method import loss
from audfer_jax.method import pos_weight as pw
from tfds_builders import facs

B, C = 6, 7


def _inputs(seed, soft=False, batch_size=B):
  rng = np.random.default_rng(seed)
  expr_logits = rng.normal(size=(batch_size, C)).astype(np.float32) * 3
  au_logits = rng.normal(size=(batch_size, 18)).astype(np.float32) * 3
  au_targets = rng.integers(0, 2, size=(batch_size, 18)).astype(np.uint8)
  labels = rng.integers(0, C, size=batch_size)
  if soft:  # mixup of each sample with a permutation of the batch
    lam = rng.uniform(0.2, 0.8, size=(batch_size, 1))
    one_hot = np.eye(C)[labels]
    targets = (lam * one_hot + (1 - lam) * one_hot[::-1]).astype(np.float32)
  else:
    targets = labels
  return expr_logits, au_logits, targets, au_targets


def _torch_loss(expr_logits, au_logits, targets, au_targets, k, p, lam, ls):
  """The reference: torch CE + BCEWithLogits(weight=5 K[y], pos_weight)."""
  rows = np.eye(C)[targets] if targets.ndim == 1 else targets
  weight = 5 * rows @ k
  p = rows @ p if p.ndim == 2 else p
  bce = torch.nn.BCEWithLogitsLoss(
    weight=torch.tensor(weight), pos_weight=torch.tensor(p)
  )
  ce = torch.nn.CrossEntropyLoss(label_smoothing=ls)
  t = torch.tensor(targets if targets.ndim == 2 else targets.astype(np.int64))
  expr = ce(torch.tensor(expr_logits, dtype=torch.float64), t).item()
  aus = bce(
    torch.tensor(au_logits, dtype=torch.float64),
    torch.tensor(au_targets, dtype=torch.float64),
  ).item()
  return (1 - lam) * expr + lam * aus, expr, aus


@pytest.mark.parametrize('strategy', ['global', 'distinct', 'minor'])
@pytest.mark.parametrize('soft', [False, True])
def test_matches_torch(strategy, soft):
  expr_logits, au_logits, targets, au_targets = _inputs(1, soft)
  k = np.asarray(facs.PAPER_KNOWLEDGE)
  p = pw.pos_weight_preset('dfew', strategy).astype(np.float64)
  lam, ls = 0.3, 0.1
  total, parts = loss.audfer_loss(
    jnp.asarray(expr_logits),
    jnp.asarray(au_logits),
    jnp.asarray(targets),
    jnp.asarray(au_targets),
    jnp.ones(B, bool),
    knowledge=jnp.asarray(k, jnp.float32),
    pos_weight=jnp.asarray(p, jnp.float32),
    au_lambda=lam,
    label_smoothing=ls,
  )
  want = _torch_loss(expr_logits, au_logits, targets, au_targets, k, p, lam, ls)
  got = (float(total), float(parts['expr_loss']), float(parts['au_loss']))
  np.testing.assert_allclose(got, want, rtol=1e-6)
  assert float(parts['loss']) == float(total)


def test_invalid_samples_are_left_out():
  expr_logits, au_logits, labels, au_targets = _inputs(2)
  valid = np.array([True, False, True, True, False, True])
  k = np.asarray(knowledge.K_DFEW_V1, np.float32)
  p = pw.pos_weight_preset('ferv39k', 'distinct')
  got = loss.au_loss(
    jnp.asarray(au_logits),
    jnp.asarray(au_targets),
    jnp.asarray(valid),
    jnp.asarray(labels),
    knowledge=jnp.asarray(k),
    pos_weight=jnp.asarray(p),
  )
  # Equals torch's mean over the valid samples only (18 x 4 elements).
  _, _, want = _torch_loss(
    expr_logits[valid],
    au_logits[valid],
    labels[valid],
    au_targets[valid],
    k.astype(np.float64),
    p.astype(np.float64),
    0.0,
    0.0,
  )
  np.testing.assert_allclose(float(got), want, rtol=1e-6)
  # No valid sample at all: zero, not NaN.
  zero = loss.au_loss(
    jnp.asarray(au_logits),
    jnp.asarray(au_targets),
    jnp.zeros(B, bool),
    jnp.asarray(labels),
    knowledge=jnp.asarray(k),
    pos_weight=jnp.asarray(p),
  )
  assert float(zero) == 0.0


def test_stable_for_large_bf16_logits_under_jit():
  expr_logits, au_logits, labels, au_targets = _inputs(3)
  big_expr = jnp.asarray(expr_logits * 1e4, jnp.bfloat16)
  big_au = jnp.asarray(au_logits * 1e4, jnp.bfloat16)
  loss_fn = jax.jit(
    lambda e, a: loss.audfer_loss(
      e,
      a,
      jnp.asarray(labels),
      jnp.asarray(au_targets),
      jnp.ones(B, bool),
      knowledge=jnp.asarray(facs.PAPER_KNOWLEDGE, jnp.float32),
      pos_weight=jnp.asarray(pw.pos_weight_preset('dfew', 'global')),
    )
  )
  total, parts = loss_fn(big_expr, big_au)
  assert total.dtype == jnp.float32
  assert np.isfinite(float(total))
  # With |logits| ~ 1e4 the losses are the linear asymptotes, computable
  # exactly: CE = max logit - label logit.
  e = np.asarray(big_expr, np.float64)
  want_ce = np.mean(e.max(axis=1) - e[np.arange(B), labels])
  np.testing.assert_allclose(float(parts['expr_loss']), want_ce, rtol=1e-3)
  grads = jax.grad(lambda a: loss_fn(big_expr, a)[0])(big_au)
  assert np.all(np.isfinite(np.asarray(grads, np.float32)))


def test_shape_errors():
  expr_logits, au_logits, labels, au_targets = _inputs(4)
  with pytest.raises(ValueError, match='knowledge has shape'):
    loss.audfer_loss(
      jnp.asarray(expr_logits),
      jnp.asarray(au_logits),
      jnp.asarray(labels),
      jnp.asarray(au_targets),
      jnp.ones(B, bool),
      knowledge=jnp.ones((11, 18)),
      pos_weight=jnp.ones(18),
    )


def test_same_loss_with_the_batch_sharded_over_8_devices():
  batch = _inputs(5, soft=True, batch_size=16)
  valid = np.arange(16) % 3 != 0
  mesh = jax.make_mesh((8,), ('data',))
  sharding = jax.sharding.NamedSharding(
    mesh, jax.sharding.PartitionSpec('data')
  )
  loss_fn = jax.jit(
    lambda e, a, t, y, v: loss.audfer_loss(
      e,
      a,
      t,
      y,
      v,
      knowledge=jnp.asarray(facs.PAPER_KNOWLEDGE, jnp.float32),
      pos_weight=jnp.asarray(pw.pos_weight_preset('dfew', 'distinct')),
    )[1]
  )
  inputs = [jnp.asarray(x) for x in (*batch, valid)]
  sharded = loss_fn(*[jax.device_put(x, sharding) for x in inputs])
  unsharded = loss_fn(*inputs)
  for key in ('loss', 'expr_loss', 'au_loss'):
    np.testing.assert_allclose(sharded[key], unsharded[key], rtol=1e-6)
