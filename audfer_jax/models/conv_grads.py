"""Convolutions whose gradients XLA:CPU runs fast; same results.

Two changes to the gradients `jax.grad` would give, both measured in
benchmarks/README.md:

- Input gradient of a strided convolution. XLA writes it as a convolution
  with `lhs_dilation` (zeros between the gradient's elements), which XLA:CPU
  runs in its own emitter, 10-25x slower than the oneDNN convolutions it
  uses otherwise (with the project's flags). Here it is split by output
  phase into stride-1 convolutions with sub-kernels (no multiplications by
  zeros): 2.2x faster R3D-18 and M3DFEL train steps.
- Weight gradient of a stride-1 convolution over large clips. XLA hands it
  to oneDNN as a forward convolution whose input features are the batch;
  oneDNN runs that 2-2.5x slower per clip for 2-4 clips than for one. On
  CPUs, clips of at least `PER_CLIP_MIN_POSITIONS` positions get their
  weight gradients one clip at a time, summed: 1.13x faster R3D-18 and
  M3DFEL train steps (batch 2), more for larger batches.

`resnet.conv` passes `conv_general_dilated` to every ResNet convolution
(R3D-18, M3DFEL, Former-DFER). On GPUs the first change only reorders the
same work and the second is off. `use_lax_convolutions(model)` restores
XLA's own gradients, for A/B runs.
"""

import functools
import itertools
import math

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


# Per-clip weight gradients measured faster for 16 x 56 x 56 clips (R3D-18's
# first stage) and 4 x 56 x 56 ones (M3DFEL's 4-frame instances); slower
# for 8 x 28 x 28 and for strided convolutions.
PER_CLIP_MIN_POSITIONS = 10_000


def _weight_grad_per_clip(x_shape, strides):
  positions = math.prod(x_shape[1:-1])
  return (
    jax.default_backend() == 'cpu'
    and x_shape[0] > 1
    and all(s == 1 for s in strides)
    and positions >= PER_CLIP_MIN_POSITIONS
  )


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv(x, w, strides, padding):
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


def _weight_grad(x, w, g, strides, padding):
  def vjp(x, g):
    _, w_vjp = jax.vjp(lambda w: _conv(x, w, strides, padding), w)
    return w_vjp(g)[0]

  if not _weight_grad_per_clip(x.shape, strides):
    return vjp(x, g)
  # An unrolled sum: under lax.scan/map XLA:CPU does not give the
  # convolutions to oneDNN (100x slower).
  return sum(vjp(x[i : i + 1], g[i : i + 1]) for i in range(x.shape[0]))


def _bwd(strides, padding, residuals, g):
  x, w = residuals
  if any(s > 1 for s in strides):
    dx = _input_grad(g, w, x.shape, strides, padding)
  else:
    _, x_vjp = jax.vjp(lambda x: _conv(x, w, strides, padding), x)
    (dx,) = x_vjp(g)
  dw = _weight_grad(x, w, g, strides, padding)
  return dx.astype(x.dtype), dw


conv.defvjp(_fwd, _bwd)


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
    (
      any(s > 1 for s in window_strides)
      or _weight_grad_per_clip(lhs.shape, window_strides)
    )
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
  return conv(lhs, rhs, tuple(window_strides), padding)


def use_lax_convolutions(model):
  """Makes every `nnx.Conv` of `model` call `lax.conv_general_dilated`."""
  for _, module in nnx.iter_graph(model):
    if isinstance(module, nnx.Conv):
      module.conv_general_dilated = lax.conv_general_dilated
