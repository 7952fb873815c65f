"""Strided convolutions whose input gradient XLA:CPU runs fast.

The input gradient of a strided convolution is, in XLA, a convolution with
`lhs_dilation` (zeros between the gradient's elements). XLA:CPU sends plain
convolutions to oneDNN (with the project's flags) but runs lhs-dilated ones
in its own emitter, 10-25x slower (benchmarks/README.md). Here it is split
by output phase into stride-1 convolutions with sub-kernels (no
multiplications by zeros), which oneDNN runs; the results are the same up
to float rounding.

`resnet.conv` passes it to every ResNet convolution (R3D-18, M3DFEL,
Former-DFER): 2.2x faster R3D-18 and M3DFEL train steps on CPU
(benchmarks/README.md). On GPUs it only reorders the same work.
`use_lax_convolutions(model)` restores XLA's own gradient, for A/B runs.
"""

import functools
import itertools

from flax import nnx
import jax
from jax import lax
import jax.numpy as jnp


def _channels_last(ndim):
  spatial = 'DHW'[3 - (ndim - 2) :]
  return (f'N{spatial}C', f'{spatial}IO', f'N{spatial}C')


def _conv(x, w, strides, padding):
  dn = _channels_last(x.ndim)
  return lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=dn)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def strided_conv(x, w, strides, padding):
  """x [N, *S, Cin] * w [*K, Cin, Cout], explicit ((lo, hi), ...) padding."""
  return _conv(x, w, strides, padding)


def _fwd(x, w, strides, padding):
  return _conv(x, w, strides, padding), (x, w)


def _input_grad(g, w, x_shape, strides, padding):
  """dx of a strided convolution as stride-1 convolutions, one per phase.

  Along a dimension with stride s, the inputs i = s j + p of one phase p
  receive the gradient through the taps t = r, r + s, ... only, with
  r = (p + lo) mod s: dx[s j + p] = sum_k g[j + c - k] w[r + s k],
  c = (p + lo - r) / s, a stride-1 correlation of g with that sub-kernel
  reversed. The phases' results are interleaved back.
  """
  nd = len(strides)
  sizes, c_in = x_shape[1:-1], x_shape[-1]
  blocks = [-(-n // s) for n, s in zip(sizes, strides, strict=True)]
  outs = []
  for phase in itertools.product(*[range(s) for s in strides]):
    taps, window, pads = [], [], []
    for d, p in enumerate(phase):
      n, k, s = sizes[d], w.shape[d], strides[d]
      lo, m = padding[d][0], g.shape[d + 1]
      r = (p + lo) % s
      c = (p + lo - r) // s
      count = len(range(r, k, s))
      n_p = -(-(n - p) // s)  # inputs in this phase
      lo_pad, hi_pad = count - 1 - c, n_p - m + c
      taps.append(slice(r, None, s) if count else None)
      # Negative padding as a slice of g, so that oneDNN takes the conv.
      window.append(slice(max(0, -lo_pad), m - max(0, -hi_pad)))
      pads.append((max(lo_pad, 0), max(hi_pad, 0), blocks[d] - n_p))
    if None in taps:  # no tap reaches this phase (stride > kernel)
      outs.append(jnp.zeros((g.shape[0], *blocks, c_in), g.dtype))
      continue
    sub = jnp.swapaxes(jnp.flip(w[tuple(taps)], tuple(range(nd))), -1, -2)
    out = _conv(
      g[(slice(None), *window)], sub, (1,) * nd, [p[:2] for p in pads]
    )
    grow = [(0, 0, 0)] + [(0, p[2], 0) for p in pads] + [(0, 0, 0)]
    outs.append(lax.pad(out, jnp.zeros((), out.dtype), grow))
  # [phases..., N, blocks..., C] -> [N, block_0, phase_0, ..., C] -> crop.
  dx = jnp.stack(outs).reshape(*strides, g.shape[0], *blocks, c_in)
  order = [nd, *(a for d in range(nd) for a in (nd + 1 + d, d)), 2 * nd + 1]
  dx = dx.transpose(order).reshape(
    g.shape[0], *(b * s for b, s in zip(blocks, strides, strict=True)), c_in
  )
  return dx[(slice(None), *(slice(0, n) for n in sizes))]


def _bwd(strides, padding, residuals, g):
  x, w = residuals
  _, w_vjp = jax.vjp(lambda w: _conv(x, w, strides, padding), w)
  (dw,) = w_vjp(g)
  dx = _input_grad(g, w, x.shape, strides, padding)
  return dx.astype(x.dtype), dw


strided_conv.defvjp(_fwd, _bwd)


def conv_general_dilated(
  lhs,
  rhs,
  window_strides,
  padding,
  lhs_dilation=None,
  rhs_dilation=None,
  dimension_numbers=None,
  feature_group_count=1,
  precision=None,
  **kwargs,
):
  """Drop-in for `lax.conv_general_dilated` (what `nnx.Conv` calls)."""
  plain = (
    any(s > 1 for s in window_strides)
    and not isinstance(padding, str)
    and all(d == 1 for d in (lhs_dilation or ()) + (rhs_dilation or ()))
    and feature_group_count == 1
    and precision is None
    and all(v is None for v in kwargs.values())  # nnx passes out_sharding
    and dimension_numbers
    == lax.conv_dimension_numbers(
      lhs.shape, rhs.shape, _channels_last(lhs.ndim)
    )
  )
  if not plain:
    return lax.conv_general_dilated(
      lhs,
      rhs,
      window_strides,
      padding,
      lhs_dilation,
      rhs_dilation,
      dimension_numbers,
      feature_group_count,
      precision=precision,
      **kwargs,
    )
  padding = tuple(tuple(p) for p in padding)
  return strided_conv(lhs, rhs, tuple(window_strides), padding)


def use_lax_convolutions(model):
  """Makes every `nnx.Conv` of `model` call `lax.conv_general_dilated`."""
  for _, module in nnx.iter_graph(model):
    if isinstance(module, nnx.Conv):
      module.conv_general_dilated = lax.conv_general_dilated
