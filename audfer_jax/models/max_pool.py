"""3x3, stride-2 max pooling whose gradient XLA:CPU runs fast.

`jax.grad` of a max pool is a select-and-scatter, which XLA:CPU expands into
a variadic reduce-window over the input and four int32 iota arrays of its
size: 109 ms for the pooling after Former-DFER's stem (32 frames of
56 x 56 x 64), 14x PyTorch's 7.8 ms. Here the gradient goes, per window, to
the first tap (row-major) that holds the maximum, the tie rule of both
`jax.grad` and PyTorch; the taps' shares are summed per output phase at a
quarter of the input's size and interleaved once: 27 ms
(benchmarks/README.md)."""

import jax
from jax import lax
import jax.numpy as jnp

_PAD = ((0, 0), (1, 1), (1, 1), (0, 0))


def _tap(xp, i, j, out_h, out_w):
  """xp[:, i::2, j::2] over the output grid (xp padded by 1)."""
  n, _, _, c = xp.shape
  end = (n, i + 2 * (out_h - 1) + 1, j + 2 * (out_w - 1) + 1, c)
  return lax.slice(xp, (0, i, j, 0), end, (1, 2, 2, 1))


@jax.custom_vjp
def max_pool_3x3_s2(x):
  """Max over 3x3 windows, stride 2, padding 1, of x [N, H, W, C]."""
  return lax.reduce_window(
    x, -jnp.inf, lax.max, (1, 3, 3, 1), (1, 2, 2, 1), _PAD
  )


def _first_max_tap(x, y):
  """Per output: the first tap (row-major, 0..8) holding the window's max."""
  out_h, out_w = y.shape[1:3]
  xp = jnp.pad(x, _PAD, constant_values=-jnp.inf)
  first = jnp.full(y.shape, 9, jnp.int8)
  for k in reversed(range(9)):
    hit = _tap(xp, k // 3, k % 3, out_h, out_w) == y
    first = jnp.where(hit, jnp.int8(k), first)
  return first


def _fwd(x):
  y = max_pool_3x3_s2(x)
  # x stays alive anyway for the ReLU before it; it gives dx's shape.
  return y, (x, _first_max_tap(x, y))


# Padded index 2 m + i of tap i: phase (i % 2), offset m - a = i // 2 from
# the output index a. Per phase: the taps and their (before, after) padding
# on the output grid of size `out + 1`.
_PHASE_TAPS = ({0: (0, 1), 2: (1, 0)}, {1: (0, 1)})


def _bwd(residuals, g):
  x, first = residuals
  n, h, w, c = x.shape
  # Materialised: fused into the output loop it would be recomputed for
  # every input position (4x slower).
  first = lax.optimization_barrier(first)
  out_h, out_w = g.shape[1:3]
  zero = jnp.zeros((), g.dtype)
  phases = []
  for rows in _PHASE_TAPS:
    for cols in _PHASE_TAPS:
      total = jnp.zeros((n, out_h + 1, out_w + 1, c), g.dtype)
      for i, pad_i in rows.items():
        for j, pad_j in cols.items():
          share = jnp.where(first == 3 * i + j, g, zero)
          total = total + jnp.pad(share, ((0, 0), pad_i, pad_j, (0, 0)))
      phases.append(total)
  # [row phase, col phase, N, h', w', C] -> [N, h', row phase, w', col, C].
  dxp = jnp.stack(phases).reshape(2, 2, n, out_h + 1, out_w + 1, c)
  dxp = dxp.transpose(2, 3, 0, 4, 1, 5).reshape(
    n, 2 * out_h + 2, 2 * out_w + 2, c
  )
  return (dxp[:, 1 : h + 1, 1 : w + 1],)


max_pool_3x3_s2.defvjp(_fwd, _bwd)
