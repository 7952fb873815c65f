"""Tests for the DFER metrics (audfer_jax.metrics), sharded and unsharded."""

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np
import pytest

from audfer_jax import metrics

C = 4


def _one_hot_logits(predictions, num_classes=C):
  return np.eye(num_classes, dtype=np.float32)[predictions] * 3


def _batch(labels, predictions, au_label, au_predicted, au_valid, mask):
  return {
    'expr_logits': jnp.asarray(_one_hot_logits(predictions)),
    'au_logits': jnp.asarray(np.where(au_predicted, 2.0, -2.0), jnp.float32),
    'label': jnp.asarray(labels, jnp.int32),
    'au_label': jnp.asarray(au_label, jnp.uint8),
    'au_valid': jnp.asarray(au_valid),
    'mask': jnp.asarray(mask),
  }


def test_hand_computed_confusion_matrix():
  # Class 3 never occurs; the last example is padding.
  labels = [0, 0, 0, 1, 1, 2, 2, 2, 1]
  predictions = [0, 0, 1, 1, 2, 2, 2, 0, 3]
  mask = [True] * 8 + [False]
  no_aus = np.zeros((9, 18))
  batch = _batch(labels, predictions, no_aus, no_aus, np.ones(9, bool), mask)
  result = metrics.EvalMetrics.single_from_model_output(**batch).compute()
  expected_cm = [[2, 1, 0, 0], [0, 1, 1, 0], [1, 0, 2, 0], [0, 0, 0, 0]]
  np.testing.assert_array_equal(result['confusion_matrix'], expected_cm)
  assert result['war'] == pytest.approx(5 / 8)
  # Recalls 2/3, 1/2, 2/3; class 3 absent: left out of UAR, sentinel -1.
  assert result['uar'] == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)
  np.testing.assert_allclose(
    result['per_class_accuracy'], [2 / 3, 1 / 2, 2 / 3, -1.0]
  )
  np.testing.assert_array_equal(result['class_count'], [3, 2, 3, 0])
  assert isinstance(result['war'], float)


def test_hand_computed_au_f1():
  au_label = np.zeros((4, 18), int)
  au_pred = np.zeros((4, 18), bool)
  # AU0: TP TP FP . -> F1 = 4 / 5. AU1: TP FN . . -> 2 / 3.
  au_label[:2, 0] = 1
  au_pred[:3, 0] = True
  au_label[:2, 1] = 1
  au_pred[0, 1] = True
  # Example 3 is not AU-valid: its (wrong) AU2 prediction must not count.
  au_pred[3, 2] = True
  batch = _batch(
    [0] * 4, [0] * 4, au_label, au_pred, [True, True, True, False], [True] * 4
  )
  result = metrics.EvalMetrics.single_from_model_output(**batch).compute()
  # 16 AUs never present nor predicted have no F1: macro over AU0 and AU1.
  assert result['au_f1'] == pytest.approx((4 / 5 + 2 / 3) / 2)
  # Micro: TP 3, FP 1, FN 1 -> 6 / 8.
  assert result['au_f1_micro'] == pytest.approx(6 / 8)
  # 3 valid examples x 18 AUs, 2 wrong decisions.
  assert result['au_accuracy'] == pytest.approx(1 - 2 / 54)
  assert result['au_f1_per_au'][2] == -1.0


def _random_batches(seed, num_batches, batch_size):
  rng = np.random.default_rng(seed)
  batches = []
  for i in range(num_batches):
    mask = np.ones(batch_size, bool)
    if i == num_batches - 1:
      mask[-5:] = False  # padded last batch
    batches.append(
      _batch(
        rng.integers(0, C, batch_size),
        rng.integers(0, C, batch_size),
        rng.integers(0, 2, (batch_size, 18)),
        rng.random((batch_size, 18)) > 0.5,
        rng.random(batch_size) > 0.2,
        mask,
      )
    )
  return batches


def _numpy_reference(batches):
  keep = np.concatenate([np.asarray(b['mask']) for b in batches])
  labels = np.concatenate([np.asarray(b['label']) for b in batches])[keep]
  predictions = np.concatenate(
    [np.asarray(b['expr_logits']).argmax(1) for b in batches]
  )[keep]
  cm = np.zeros((C, C), int)
  np.add.at(cm, (labels, predictions), 1)
  valid = np.concatenate([np.asarray(b['au_valid']) for b in batches])
  au_keep = valid[np.concatenate([np.asarray(b['mask']) for b in batches])]
  y = np.concatenate([np.asarray(b['au_label']) for b in batches])[keep]
  p = np.concatenate([np.asarray(b['au_logits']) > 0 for b in batches])[keep]
  y, p = y[au_keep] == 1, p[au_keep]
  tp, fp, fn = (y & p).sum(0), (~y & p).sum(0), (y & ~p).sum(0)
  f1 = 2 * tp / (2 * tp + fp + fn)
  return cm, np.mean(f1), np.mean(y == p)


def test_sharded_over_8_devices_equals_unsharded_and_numpy():
  batches = _random_batches(seed=0, num_batches=3, batch_size=16)
  mesh = jax.make_mesh((8,), ('data',))
  sharding = NamedSharding(mesh, P('data'))
  step = jax.jit(metrics.EvalMetrics.single_from_model_output)

  def accumulate(put):
    total = metrics.EvalMetrics.empty()
    for batch in batches:
      total = total.merge(step(**{k: put(v) for k, v in batch.items()}))
    return total.compute()

  sharded = accumulate(lambda x: jax.device_put(x, sharding))
  unsharded = accumulate(lambda x: x)
  cm, au_f1, au_accuracy = _numpy_reference(batches)
  for result in (sharded, unsharded):
    np.testing.assert_array_equal(result['confusion_matrix'], cm)
    assert result['war'] == pytest.approx(np.trace(cm) / cm.sum())
    assert result['uar'] == pytest.approx(np.mean(np.diag(cm) / cm.sum(1)))
    assert result['au_f1'] == pytest.approx(au_f1)
    assert result['au_accuracy'] == pytest.approx(au_accuracy)


def test_confusion_matrix_image():
  image = metrics.confusion_matrix_image(
    np.array([[3, 1], [0, 0]]), ['happy', 'sad']
  )
  assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
  # A drawn heatmap, not a blank canvas.
  assert image.min() < 100 and image.max() > 200

  # Row-normalised: happy's cells are 0.75 and 0.25, sad's (no example)
  # 0. matplotlib's 'Blues' is ColorBrewer's 9-class Blues spread over
  # [0, 1]: 0.75 and 0.25 land on its 7th and 3rd colours (#2171b5,
  # #c6dbef), 0 on its first (#f7fbff).
  def cell_pixels(rgb):
    close = np.abs(image.astype(int) - rgb).max(axis=-1) <= 3
    return np.argwhere(close)  # (y, x) of the pixels of that colour

  high, low, empty = (
    cell_pixels(rgb)
    for rgb in ((0x21, 0x71, 0xB5), (0xC6, 0xDB, 0xEF), (0xF7, 0xFB, 0xFF))
  )
  # Each a whole cell (or two), not the colour bar's one-pixel stripe.
  assert min(len(high), len(low)) > 1000 and len(empty) > 2000
  # 0.75 left of 0.25 in the top row, the empty row below both.
  assert high[:, 1].mean() < low[:, 1].mean()
  assert abs(high[:, 0].mean() - low[:, 0].mean()) < 5
  assert empty[:, 0].mean() > high[:, 0].mean() + 20
