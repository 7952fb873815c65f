"""The AU-DFER loss: expression cross-entropy + knowledge-weighted AU BCE.

  L = (1 - lambda) * L_expr + lambda * L_AU                      (eq. 10)

L_AU (eq. 9) is torch's `BCEWithLogitsLoss(weight=5 * K[label],
pos_weight=P)`: for each sample b and AU j,
  l_bj = -w_bj * (p_bj * y_bj * log sigmoid(x_bj)
                  + (1 - y_bj) * log sigmoid(-x_bj))
with w = 5 * K[label] and p the pos_weight vector ('global') or the label's
row ('distinct', 'minor'). With soft (mixup) targets, w and p are the
target-weighted mixtures of the rows. Everything is computed in float32
(bf16 logits are cast) with log_sigmoid / log_softmax, so large logits are
safe; all functions are jit-compatible.
"""

import jax
import jax.numpy as jnp

# The upstream code scales K linearly by 5 into BCE element weights.
KNOWLEDGE_SCALE = 5.0


def _class_rows(targets, num_classes):
  """Integer [B] or soft [B, C] targets -> float32 [B, C] class weights."""
  if targets.ndim == 1:
    return jax.nn.one_hot(targets, num_classes, dtype=jnp.float32)
  return targets.astype(jnp.float32)


def _mix_rows(rows, table):
  """rows [B, C] @ table [C, 18], in full float32 (not bf16 passes on TPU)."""
  return jnp.dot(
    rows, table.astype(jnp.float32), precision=jax.lax.Precision.HIGHEST
  )


def expression_loss(logits, targets, label_smoothing=0.0):
  """L_expr: softmax cross-entropy, mean over the batch.

  Plain (optionally label-smoothed) cross-entropy, as in the reference code,
  which equals torch's `CrossEntropyLoss(label_smoothing=...)`. The paper's
  eq. 5 writes log(5 p); no such term exists in the published code.

  Args:
    logits: [B, C] expression logits (any float dtype).
    targets: int [B] labels or float [B, C] soft (mixup) targets.
    label_smoothing: eps; the target becomes (1 - eps) * t + eps / C.
  """
  num_classes = logits.shape[-1]
  probs = _class_rows(targets, num_classes)
  probs = probs * (1.0 - label_smoothing) + label_smoothing / num_classes
  log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  return -(probs * log_probs).sum(axis=-1).mean()


def au_loss(au_logits, au_targets, au_valid, targets, *, knowledge, pos_weight):
  """L_AU: knowledge-weighted BCE with pos_weight (eq. 9).

  Args:
    au_logits: [B, 18] AU logits.
    au_targets: [B, 18] 0/1 per-video AU labels (any dtype).
    au_valid: [B] bool; samples without AU labels contribute nothing.
    targets: int [B] or soft [B, C] expression targets (pick the K rows).
    knowledge: K [C, 18].
    pos_weight: [18] or [C, 18].

  Returns:
    The sum of l_bj over valid samples divided by 18 * (number of valid
    samples): torch's mean over B x 18 when all are valid; 0 when none is.
  """
  num_classes = knowledge.shape[0]
  rows = _class_rows(targets, num_classes)
  weight = KNOWLEDGE_SCALE * _mix_rows(rows, knowledge)
  if pos_weight.ndim == 2:
    pos_weight = _mix_rows(rows, pos_weight)
  else:
    pos_weight = pos_weight.astype(jnp.float32)[None]
  x = au_logits.astype(jnp.float32)
  y = au_targets.astype(jnp.float32)
  per_element = -weight * (
    pos_weight * y * jax.nn.log_sigmoid(x) + (1.0 - y) * jax.nn.log_sigmoid(-x)
  )
  valid = au_valid.astype(bool)
  # where (not a product) so that garbage in invalid rows cannot leak NaN.
  total = jnp.where(valid[:, None], per_element, 0.0).sum()
  count = jnp.maximum(valid.sum(), 1).astype(jnp.float32) * x.shape[-1]
  return total / count


def audfer_loss(
  expr_logits,
  au_logits,
  targets,
  au_targets,
  au_valid,
  *,
  knowledge,
  pos_weight,
  au_lambda=0.25,
  label_smoothing=0.0,
):
  """L = (1 - au_lambda) * L_expr + au_lambda * L_AU (eq. 10).

  Args:
    expr_logits: [B, C] expression logits.
    au_logits: [B, 18] AU logits.
    targets: int [B] labels or float [B, C] soft (mixup) targets.
    au_targets: [B, 18] 0/1 AU labels.
    au_valid: [B] bool.
    knowledge: K [C, 18] (the loss uses 5 * K).
    pos_weight: [18] ('global') or [C, 18] ('distinct', 'minor').
    au_lambda: lambda.
    label_smoothing: of the expression cross-entropy only.

  Returns:
    (total loss, {'loss', 'expr_loss', 'au_loss'}) as float32 scalars.
  """
  num_classes = expr_logits.shape[-1]
  if knowledge.shape != (num_classes, au_logits.shape[-1]):
    raise ValueError(
      f'knowledge has shape {knowledge.shape}, expected '
      f'({num_classes}, {au_logits.shape[-1]})'
    )
  if pos_weight.ndim == 2 and pos_weight.shape != knowledge.shape:
    raise ValueError(
      f'pos_weight has shape {pos_weight.shape}, expected '
      f'{(au_logits.shape[-1],)} or {knowledge.shape}'
    )
  expr = expression_loss(expr_logits, targets, label_smoothing)
  aus = au_loss(
    au_logits,
    au_targets,
    au_valid,
    targets,
    knowledge=knowledge,
    pos_weight=pos_weight,
  )
  total = (1.0 - au_lambda) * expr + au_lambda * aus
  return total, {'loss': total, 'expr_loss': expr, 'au_loss': aus}
