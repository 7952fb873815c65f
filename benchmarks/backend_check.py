"""Forward and gradients of the tiny models on one backend against another.

  python -m benchmarks.backend_check --device gpu --out check.json

For each model, the trainer's loss (AU-DFER, train mode) and its gradients
with respect to every parameter, computed with the same weights and batch on
`--device` in each `--dtypes` compute dtype and on `--reference` in float32
at the highest matmul precision. Reported: the relative error
||x - reference|| / ||reference|| of the expression and AU logits, the loss
and the gradients (all parameters as one vector). For the pre-training
model (`mae_dfer_pretrain_tiny`) the loss is the pre-training step's
reconstruction MSE, with one mask drawn from a fixed key for both backends,
and its reconstruction of the masked tokens replaces the logits. On a
machine without a GPU, `--device cpu` compares the CPU with itself: float32
agrees to rounding, bfloat16 shows its ~1e-2 error. Needs neither
TensorFlow nor clu.
"""

import argparse
import sys

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from audfer_jax import inference
from audfer_jax import models
from audfer_jax.method import loss as loss_lib
from audfer_jax.process import xla_flags
from benchmarks import common
from configs import common as config_lib

_MODELS = (
  'r3d_18_tiny',
  'm3dfel_tiny',
  'former_dfer_tiny',
  'mae_dfer_tiny',
  'videomae_vit_b_tiny',
  'mae_dfer_pretrain_tiny',
)
# What is compared, in report order: a classifier's logits or the
# pre-training model's reconstruction, then the loss and the gradients.
OUTPUTS = ('expr_logits', 'au_logits', 'reconstruction', 'loss', 'grads')


def _parser():
  p = argparse.ArgumentParser(
    prog='python -m benchmarks.backend_check',
    description=__doc__,
    formatter_class=argparse.RawDescriptionHelpFormatter,
  )
  p.add_argument('--models', default=','.join(_MODELS))
  p.add_argument('--device', default='gpu', help='platform under test')
  p.add_argument('--reference', default='cpu', help='platform of reference')
  p.add_argument('--dtypes', default='float32,bfloat16')
  p.add_argument('--batch_size', type=int, default=2)
  p.add_argument('--out', default='', help='write the results as JSON here')
  return p


def _device(platform):
  try:
    return jax.devices(platform)[0]
  except RuntimeError:
    found = ', '.join(sorted({d.platform for d in jax.devices()}))
    print(
      f'error: no {platform.upper()} found (JAX has: {found})',
      file=sys.stderr,
    )
    sys.exit(2)


def _loss_and_grads(model_name, dtype, data):
  """A jitted (state, batch) -> (outputs, loss, grads) and its state."""
  config = config_lib.get_base_config()
  config.model, config.dtype = model_name, dtype
  pretrain = models.task(model_name) == 'pretrain'
  num_classes = None if pretrain else common.NUM_CLASSES
  model = inference.create_model(config, num_classes)
  graphdef, state = nnx.split(model)

  def loss_fn(model, batch):
    if pretrain:  # the pre-training step's loss, on the batch's masks
      out = model(batch['video'], batch['mask'])
      return out.loss, {'reconstruction': out.pred.astype(jnp.float32)}
    expr, au = model(batch['video'])
    expr, au = expr.astype(jnp.float32), au.astype(jnp.float32)
    loss, _ = loss_lib.audfer_loss(
      expr,
      au,
      batch['label'],
      batch['au_label'],
      batch['au_valid'],
      knowledge=data['knowledge'],
      pos_weight=data['pos_weight'],
      au_lambda=config.au_lambda,
    )
    return loss, {'expr_logits': expr, 'au_logits': au}

  def fn(state, batch):
    model = nnx.merge(graphdef, state)
    grad_fn = nnx.value_and_grad(lambda m: loss_fn(m, batch), has_aux=True)
    (loss, outputs), grads = grad_fn(model)
    return outputs, loss, nnx.state(grads, nnx.Param)

  return jax.jit(fn), state


def _run(fn, state, batch, device):
  outputs, loss, grads = jax.device_get(
    fn(*jax.device_put((state, batch), device))
  )
  flat = np.concatenate([np.ravel(g) for g in jax.tree.leaves(grads)])
  got = {**outputs, 'loss': loss, 'grads': flat}
  return {k: got[k] for k in OUTPUTS if k in got}


def check_model(model_name, device, reference, dtypes, batch_size):
  """{'model', 'device', 'reference', dtype: {output: relative error}}."""
  data = common.synthetic_batch(models.input_shape(model_name), batch_size)
  batch = {k: data[k] for k in common.BATCH_KEYS}
  if models.task(model_name) == 'pretrain':  # one mask for every run
    batch['mask'], _ = common.pretrain_masks(model_name, batch_size)
  with jax.default_matmul_precision('highest'):
    fn, state = _loss_and_grads(model_name, 'float32', data)
    expected = _run(fn, state, batch, reference)
  row = {
    'model': model_name,
    'device': device.device_kind,
    'reference': f'{reference.device_kind} float32, highest precision',
  }
  for dtype in dtypes:
    fn, state = _loss_and_grads(model_name, dtype, data)
    got = _run(fn, state, batch, device)
    row[dtype] = {
      k: common.relative_error(got[k], expected[k]) for k in expected
    }
  return row


def main(args):
  xla_flags.configure()
  device, reference = _device(args.device), _device(args.reference)
  dtypes = args.dtypes.split(',')
  rows = []
  for name in args.models.split(','):
    row = check_model(name, device, reference, dtypes, args.batch_size)
    rows.append(row)
    cells = '  '.join(
      f'{dtype}: ' + ' '.join(f'{k} {v:.1e}' for k, v in row[dtype].items())
      for dtype in dtypes
    )
    print(f'{name} on {row["device"]} vs {row["reference"]}: {cells}')
  common.write_json(args.out, {'args': vars(args), 'results': rows})
  return rows


if __name__ == '__main__':
  main(_parser().parse_args())
