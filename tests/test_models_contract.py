"""Every registered model keeps the contract of `audfer_jax.models` (the
registry's docstring), checked on its tiny variant: the classifiers', or
the pre-training models'."""

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from audfer_jax import models
from tfds_builders import facs

TINY = [n for n in models.names('classify') if n.endswith('_tiny')]
PRETRAIN_TINY = [n for n in models.names('pretrain') if n.endswith('_tiny')]
NUM_CLASSES = 5
BATCH = 2


def _video(name):
  shape = (BATCH, *models.input_shape(name))
  return np.random.default_rng(0).uniform(size=shape).astype(np.float32)


def test_every_model_has_a_tiny_variant_and_the_builders_au_count():
  full = [n for n in models.names() if not n.endswith('_tiny')]
  assert sorted(TINY + PRETRAIN_TINY) == sorted(f'{n}_tiny' for n in full)
  assert models.NUM_AUS == facs.NUM_AUS


@pytest.mark.parametrize('dtype', [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize('name', TINY)
def test_output_shapes_and_dtypes(name, dtype):
  model = nnx.eval_shape(
    lambda: models.create(name, NUM_CLASSES, rngs=nnx.Rngs(0), dtype=dtype)
  )
  graphdef, state = nnx.split(model)
  params = jax.tree.leaves(nnx.state(model, nnx.Param))
  assert {p.dtype for p in params} == {jnp.dtype(jnp.float32)}

  def forward(state, video, **kwargs):
    return nnx.merge(graphdef, state)(video, **kwargs)

  outputs = jax.eval_shape(forward, state, _video(name))
  with_feature = jax.eval_shape(
    lambda s, v: forward(s, v, return_feature=True), state, _video(name)
  )
  assert len(outputs) == 2 and len(with_feature) == 3
  expr, au, feature = with_feature
  assert expr.shape == outputs[0].shape == (BATCH, NUM_CLASSES)
  assert au.shape == outputs[1].shape == (BATCH, models.NUM_AUS)
  assert feature.ndim == 2 and feature.shape[0] == BATCH
  for x in (*outputs, *with_feature):
    assert x.dtype == dtype


@pytest.mark.parametrize('name', TINY)
def test_the_feature_is_what_the_heads_read(name):
  model = models.create(name, NUM_CLASSES, rngs=nnx.Rngs(0))
  model.eval()

  @nnx.jit
  def forward(model, video):
    expr, au, feature = model(video, return_feature=True)
    return (
      model(video),
      (expr, au),
      (model.head(feature), model.au_head(feature)),
    )

  plain, with_feature, from_feature = forward(model, _video(name))
  for got in (with_feature, from_feature):
    np.testing.assert_allclose(got[0], plain[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got[1], plain[1], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('dtype', [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize('name', PRETRAIN_TINY)
def test_pretraining_outputs(name, dtype):
  model = nnx.eval_shape(
    lambda: models.create(name, None, rngs=nnx.Rngs(0), dtype=dtype)
  )
  params = jax.tree.leaves(nnx.state(model, nnx.Param))
  assert {p.dtype for p in params} == {jnp.dtype(jnp.float32)}
  mask = jax.eval_shape(lambda k: model.masks(k, BATCH), jax.random.key(0))
  assert mask.dtype == jnp.bool_ and mask.shape[0] == BATCH
  out = nnx.eval_shape(lambda m, v, k: m(v, k), model, _video(name), mask)
  assert out.loss.shape == () and out.loss.dtype == jnp.float32
  assert out.pred.shape == out.target.shape
  assert out.pred.shape[:2] == (BATCH, model.num_masked)
  assert out.pred.dtype == dtype and out.target.dtype == jnp.float32
