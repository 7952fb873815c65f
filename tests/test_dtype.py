"""The compute dtype: 'auto' per backend, bfloat16 compute, float32 state."""

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from audfer_jax import inference
from audfer_jax.training import train
from configs import common as config_lib


def test_auto_dtype_is_float32_on_cpu_and_bfloat16_on_accelerators():
  assert config_lib.get_base_config().dtype == 'auto'
  assert jax.default_backend() == 'cpu'
  assert inference.resolve_dtype('auto') == 'float32'
  assert inference.resolve_dtype('auto', 'gpu') == 'bfloat16'
  assert inference.resolve_dtype('auto', 'tpu') == 'bfloat16'
  assert inference.resolve_dtype('float32', 'gpu') == 'float32'
  assert inference.resolve_dtype('bfloat16', 'cpu') == 'bfloat16'
  with pytest.raises(ValueError, match=r"config\.dtype: 'float16' is not"):
    inference.resolve_dtype('float16')


def _matmul_operands(jaxpr, found=None):
  """(primitive, dtype, shapes of its operands) of every convolution and
  dot product in `jaxpr`, nested jaxprs (jit, custom_vjp, scan) included."""
  found = [] if found is None else found
  for eqn in jaxpr.eqns:
    if eqn.primitive.name in ('conv_general_dilated', 'dot_general'):
      avals = [v.aval for v in eqn.invars]
      found.append(
        (eqn.primitive.name, avals[0].dtype, tuple(a.shape for a in avals))
      )
    for value in eqn.params.values():
      for sub in value if isinstance(value, tuple | list) else (value,):
        sub = getattr(sub, 'jaxpr', sub)  # ClosedJaxpr -> Jaxpr
        if hasattr(sub, 'eqns'):
          _matmul_operands(sub, found)
  return found


def _one_step(model_name, dtype):
  config = config_lib.get_base_config()
  config.model, config.dtype = model_name, dtype
  mesh = inference.create_mesh(config, jax.devices()[:1])
  model, optimizer = train.create_model_and_optimizer(
    config, 7, lambda s: 1e-3, mesh
  )
  rng = np.random.default_rng(0)
  batch = {
    'video': rng.uniform(size=(2, 8, 32, 32, 3)).astype(np.float32),
    'label': np.array([0, 3]),
    'au_label': rng.integers(0, 2, (2, 18)).astype(np.float32),
    'au_valid': np.ones(2, bool),
  }
  knowledge = np.full((7, 18), 0.5, np.float32)
  pos_weight = np.full(18, 2.0, np.float32)
  with jax.set_mesh(mesh):
    step = train.make_train_step(
      config, knowledge, pos_weight, model, optimizer
    )
    state = nnx.state((model, optimizer))
    jaxpr = jax.make_jaxpr(step)(state, batch, 0).jaxpr
    new_state, terms = step(state, batch, 0)
  return jaxpr, new_state, terms


@pytest.mark.parametrize('model_name', ['r3d_18_tiny', 'mae_dfer_tiny'])
def test_bfloat16_computes_in_bfloat16_and_keeps_float32_state(model_name):
  jaxpr, state, terms = _one_step(model_name, 'bfloat16')
  ops = _matmul_operands(jaxpr)
  assert len(ops) > 20
  # Forward and backward: every convolution and matmul of the model runs on
  # bfloat16 operands. The one float32 product is the loss's: the targets
  # [B, 7] times K [7, 18] (method/loss.py keeps it float32 on purpose).
  in_float32 = [op for op in ops if op[1] != jnp.bfloat16]
  assert in_float32 == [('dot_general', jnp.float32, ((2, 7), (7, 18)))]
  # Parameters, BatchNorm statistics and AdamW's moments stay float32, and
  # so do the loss and the metrics.
  floats = {
    x.dtype
    for x in jax.tree.leaves(state)
    if jnp.issubdtype(x.dtype, jnp.floating)
  }
  assert floats == {jnp.dtype(jnp.float32)}
  for k in ('loss', 'expr_loss', 'au_loss', 'accuracy'):
    assert terms[k].dtype == jnp.float32, k


def test_float32_computes_in_float32():
  jaxpr, _, _ = _one_step('r3d_18_tiny', 'auto')  # 'auto' on the CPU
  assert {op[1] for op in _matmul_operands(jaxpr)} == {jnp.dtype(jnp.float32)}


def test_step_accuracy_is_the_expression_heads():
  config = config_lib.get_base_config()
  config.model = 'mae_dfer_tiny'
  model = inference.create_model(config, 7)
  rng = np.random.default_rng(1)
  video = rng.uniform(size=(4, 8, 32, 32, 3)).astype(np.float32)
  # The step's forward in train mode, before its update: the same logits.
  predicted = np.asarray(model(video)[0]).argmax(-1)
  label = np.array([predicted[0], predicted[1], (predicted[2] + 1) % 7, 0])
  expected = np.mean(label == predicted)
  mesh = inference.create_mesh(config, jax.devices()[:1])
  model, optimizer = train.create_model_and_optimizer(
    config, 7, lambda s: 0.0, mesh
  )
  batch = {
    'video': video,
    # Mixup targets: soft rows, counted by their argmax.
    'label': np.eye(7, dtype=np.float32)[label] * 0.8 + 0.2 / 7,
    'au_label': np.zeros((4, 18), np.float32),
    'au_valid': np.ones(4, bool),
  }
  with jax.set_mesh(mesh):
    step = train.make_train_step(
      config,
      np.full((7, 18), 0.5, np.float32),
      np.full(18, 2.0, np.float32),
      model,
      optimizer,
    )
    _, terms = step(nnx.state((model, optimizer)), batch, 0)
  assert float(terms['accuracy']) == pytest.approx(expected)
