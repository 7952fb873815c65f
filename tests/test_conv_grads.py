"""Convolution gradients in forms XLA:CPU runs fast (models/conv_grads.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from audfer_jax.models import conv_grads


@pytest.mark.parametrize(
  'shape, kernel, strides, padding',
  [
    ((2, 5, 9, 8, 3), (3, 3, 3, 3, 4), (2, 2, 2), ((1, 1),) * 3),
    ((1, 4, 11, 11, 2), (3, 7, 7, 2, 3), (1, 2, 2), ((1, 1), (3, 3), (3, 3))),
    ((2, 9, 10, 3), (1, 1, 3, 5), (2, 2), ((0, 0), (0, 0))),
    # Stride 1, clips of PER_CLIP_MIN_POSITIONS: weight gradients per clip.
    ((3, 4, 50, 50, 2), (3, 3, 3, 2, 3), (1, 1, 1), ((1, 1),) * 3),
  ],
)
def test_conv_gradients_match_lax_without_lhs_dilation(
  shape, kernel, strides, padding
):
  rng = np.random.default_rng(0)
  x = rng.standard_normal(shape, np.float32)
  w = rng.standard_normal(kernel, np.float32)
  dn = conv_grads._channels_last(len(shape))

  def loss(conv):
    return lambda x, w: jnp.sum(jnp.sin(conv(x, w)))

  def lax_conv(x, w):
    return jax.lax.conv_general_dilated(
      x, w, strides, padding, dimension_numbers=dn
    )

  def new_conv(x, w):
    return conv_grads.conv_general_dilated(
      x,
      w,
      strides,
      padding,
      (1,) * len(strides),
      None,
      jax.lax.conv_dimension_numbers(x.shape, w.shape, dn),
    )

  want = jax.grad(loss(lax_conv), argnums=(0, 1))(x, w)
  new_grad = jax.jit(jax.grad(loss(new_conv), argnums=(0, 1)))
  got = new_grad(x, w)
  for g, r in zip(got, want, strict=True):
    np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)
  # No convolution with zeros between the inputs is left for XLA:CPU's
  # slow native emitter.
  hlo = new_grad.lower(x, w).compile().as_text()
  assert 'lhs_dilate' not in hlo
  per_clip = strides == (1, 1, 1)
  assert conv_grads._weight_grad_per_clip(shape, strides) == per_clip
  if per_clip:  # one weight-gradient convolution per clip
    assert hlo.count(f'f32[1,{",".join(map(str, shape[1:]))}]') >= shape[0]
