"""The fast-gradient max pool equals lax's pooling and PyTorch's gradient."""

from flax import nnx
import jax
import numpy as np
import pytest
import torch

from audfer_jax.models import max_pool


def _lax_pool(x):
  return nnx.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))


def _input_grad(pool, x, g):
  return jax.jit(lambda x, g: jax.vjp(pool, x)[1](g)[0])(x, g)


# Odd and even sizes; values on a coarse grid so that windows hold ties.
@pytest.mark.parametrize('shape', [(2, 7, 9, 3), (3, 8, 8, 2), (1, 5, 6, 4)])
def test_values_and_gradient_match_lax_and_torch(shape):
  rng = np.random.default_rng(0)
  x = (np.round(rng.normal(size=shape) * 2) / 2).astype(np.float32)
  y = max_pool.max_pool_3x3_s2(x)
  np.testing.assert_array_equal(y, _lax_pool(x))
  g = rng.normal(size=y.shape).astype(np.float32)
  ours = _input_grad(max_pool.max_pool_3x3_s2, x, g)
  np.testing.assert_allclose(ours, _input_grad(_lax_pool, x, g), atol=1e-6)
  xt = torch.tensor(x).permute(0, 3, 1, 2).requires_grad_()
  yt = torch.nn.functional.max_pool2d(xt, 3, 2, 1)
  (gt,) = torch.autograd.grad(yt, xt, torch.tensor(g).permute(0, 3, 1, 2))
  np.testing.assert_allclose(ours, gt.permute(0, 2, 3, 1).numpy(), atol=1e-6)
  # Every upstream gradient lands on exactly one input.
  np.testing.assert_allclose(ours.sum(), g.sum(), rtol=1e-5)
