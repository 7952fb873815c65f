"""DFER metrics as clu metrics: WAR, UAR, per-class accuracy, AU-head F1.

Each metric keeps integer counts (a confusion matrix, AU TP/FP/FN/TN), so a
batch's metrics are exact sums: under `jax.jit` on globally sharded arrays,
`EvalMetrics.single_from_model_output(...)` already sums over the global batch
(all devices and hosts), and `.merge` adds batches. `mask` marks the real
examples (padding in the last eval batch has mask False and counts nowhere).

Definitions (`compute()` of a collection gives a flat dict of python floats
and numpy arrays):
  war: accuracy over all examples (weighted average recall).
  uar: mean recall over the classes PRESENT in the labels; a class with no
    example has no recall and is left out of the mean rather than counted as
    0 or NaN.
  per_class_accuracy [C]: recall of each class; -1.0 for a class with no
    example (a visible sentinel, never NaN). class_count [C]: the examples.
  confusion_matrix [C, C]: counts, rows = true class, columns = prediction.
  au_f1: macro F1 over the AUs (AU predicted present when its logit > 0),
    over examples with `au_valid`. An AU never present and never predicted
    has no F1 (2TP + FP + FN = 0) and is left out of the mean; au_f1_per_au
    [18] gives -1.0 for it. au_f1_micro pools the counts of all AUs.
  au_accuracy: fraction of correct AU decisions (examples x 18).
With no example at all every rate is 0.0.
"""

from clu import metrics as clu_metrics
import flax
import jax
import jax.numpy as jnp
import numpy as np

from audfer_jax import heatmap


def _hard_labels(label):
  """int [B] labels, or soft [B, C] targets reduced to their argmax."""
  return label.argmax(axis=-1) if label.ndim == 2 else label


def _example_mask(batch_size, mask):
  if mask is None:
    return jnp.ones((batch_size,), bool)
  return mask.astype(bool)


def _safe_ratio(numerator, denominator):
  """numerator / denominator, 0 where the denominator is 0."""
  numerator = np.asarray(numerator, np.float64)
  denominator = np.asarray(denominator, np.float64)
  return numerator / np.where(denominator > 0, denominator, 1.0)


def _merge_counts(a, b):
  # `empty()` does not know the sizes: a (0, 0) array stands for no data.
  if a.size == 0:
    return b
  if b.size == 0:
    return a
  return a + b


@flax.struct.dataclass
class ExpressionMetric(clu_metrics.Metric):
  """Confusion matrix of the expression head -> WAR, UAR, per-class recall."""

  confusion: jax.Array  # int32 [C, C], rows = true class

  @classmethod
  def empty(cls):
    return cls(confusion=jnp.zeros((0, 0), jnp.int32))

  @classmethod
  def from_model_output(cls, *, expr_logits, label, mask=None, **_):
    num_classes = expr_logits.shape[-1]
    keep = _example_mask(expr_logits.shape[0], mask)
    true = jax.nn.one_hot(_hard_labels(label), num_classes, dtype=jnp.int32)
    predicted = jax.nn.one_hot(
      expr_logits.argmax(axis=-1), num_classes, dtype=jnp.int32
    )
    true = true * keep[:, None].astype(jnp.int32)
    # A sum over the batch, not a matmul: the batch axis may be sharded
    # (explicit-sharding meshes refuse a contraction over a sharded axis).
    return cls(confusion=(true[:, :, None] * predicted[:, None, :]).sum(0))

  def merge(self, other):
    return type(self)(confusion=_merge_counts(self.confusion, other.confusion))

  def compute(self):
    confusion = np.asarray(self.confusion, np.int64)
    count = confusion.sum(axis=1)
    present = count > 0
    recall = _safe_ratio(np.diag(confusion), count)
    return {
      'war': float(_safe_ratio(np.trace(confusion), confusion.sum())),
      'uar': float(recall[present].mean()) if present.any() else 0.0,
      'per_class_accuracy': np.where(present, recall, -1.0),
      'class_count': count,
      'confusion_matrix': confusion,
    }


@flax.struct.dataclass
class AUMetric(clu_metrics.Metric):
  """Per-AU TP, FP, FN, TN of the AU head -> F1 (macro, micro), accuracy."""

  counts: jax.Array  # int32 [4, 18]: TP, FP, FN, TN

  @classmethod
  def empty(cls):
    return cls(counts=jnp.zeros((0, 0), jnp.int32))

  @classmethod
  def from_model_output(cls, *, au_logits, au_label, au_valid, mask=None, **_):
    keep = _example_mask(au_logits.shape[0], mask) & au_valid.astype(bool)
    keep = keep[:, None]
    predicted = au_logits > 0
    present = au_label.astype(jnp.float32) > 0.5

    def count(x):
      return (x & keep).sum(axis=0, dtype=jnp.int32)

    return cls(
      counts=jnp.stack(
        [
          count(predicted & present),
          count(predicted & ~present),
          count(~predicted & present),
          count(~predicted & ~present),
        ]
      )
    )

  def merge(self, other):
    return type(self)(counts=_merge_counts(self.counts, other.counts))

  def compute(self):
    counts = np.asarray(self.counts, np.int64)
    if counts.size == 0:
      return {
        'au_f1': 0.0,
        'au_f1_micro': 0.0,
        'au_accuracy': 0.0,
        'au_f1_per_au': np.zeros(0),
      }
    tp, fp, fn, tn = counts
    denominator = 2 * tp + fp + fn
    defined = denominator > 0
    f1 = _safe_ratio(2 * tp, denominator)
    return {
      'au_f1': float(f1[defined].mean()) if defined.any() else 0.0,
      'au_f1_micro': float(_safe_ratio(2 * tp.sum(), denominator.sum())),
      'au_accuracy': float(_safe_ratio(tp.sum() + tn.sum(), counts.sum())),
      'au_f1_per_au': np.where(defined, f1, -1.0),
    }


def _to_host(value):
  value = np.asarray(value)
  return value.item() if value.ndim == 0 else value


@flax.struct.dataclass
class _FlatCollection(clu_metrics.Collection):
  """A Collection whose compute() is one flat dict of host values."""

  def compute(self):
    flat = {}
    for name, value in super().compute().items():
      flat.update(value if isinstance(value, dict) else {name: value})
    return {name: _to_host(value) for name, value in flat.items()}


@flax.struct.dataclass
class EvalMetrics(_FlatCollection):
  """Evaluation metrics.

  Build with `EvalMetrics.single_from_model_output(expr_logits=, au_logits=,
  label=, au_label=, au_valid=, mask=)`, accumulate with `.merge`; `compute()`
  gives war, uar, per_class_accuracy, class_count, confusion_matrix, au_f1,
  au_f1_micro, au_f1_per_au, au_accuracy (see the module docstring).
  """

  expression: ExpressionMetric
  au: AUMetric


def confusion_matrix_image(cm, class_names):
  """A confusion matrix [C, C] as a uint8 [H, W, 3] heatmap for TensorBoard.

  Cells show the fraction of each true class (row) given each prediction.
  """
  cm = np.asarray(cm, np.float64)
  fractions = _safe_ratio(cm, cm.sum(axis=1, keepdims=True))
  fig = heatmap.draw_heatmap(
    fractions,
    class_names,
    class_names,
    title='confusion matrix (row-normalised)',
    xlabel='predicted',
    ylabel='true',
    vmin=0.0,
    vmax=1.0,
  )
  return heatmap.figure_to_rgb(fig)
