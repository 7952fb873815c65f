"""Pre-norm transformer of Former-DFER's spatial and temporal encoders.

Each layer is `x + to_out(attn(LN(x)))` then `x + net(LN(x))`, with a
bias-free fused `to_qkv`, contiguous head chunks, tanh-approximate GELU and
LayerNorm eps 1e-5 (torch's default). Dropout is 0 in the reference, so
there is none. Linear layers keep PyTorch's default init.
"""

from flax import nnx
import jax
import jax.numpy as jnp

from audfer_jax.models.resnet import torch_linear


def _layer_norm(dim, *, dtype, rngs):
  return nnx.LayerNorm(
    dim, epsilon=1e-5, dtype=dtype, param_dtype=jnp.float32, rngs=rngs
  )


class Attention(nnx.Module):
  """Multi-head self-attention with a fused bias-free qkv projection."""

  def __init__(self, dim, heads, dim_head, *, dtype, rngs):
    self.heads = heads
    inner = heads * dim_head
    self.to_qkv = torch_linear(
      dim, 3 * inner, use_bias=False, dtype=dtype, rngs=rngs
    )
    self.to_out = torch_linear(inner, dim, dtype=dtype, rngs=rngs)

  def __call__(self, x):
    b, n, _ = x.shape
    q, k, v = jnp.split(self.to_qkv(x), 3, axis=-1)
    q, k, v = (t.reshape(b, n, self.heads, -1) for t in (q, k, v))
    scale = q.shape[-1] ** -0.5
    attn = jax.nn.softmax(jnp.einsum('bqhd,bkhd->bhqk', q, k) * scale, -1)
    out = jnp.einsum('bhqk,bkhd->bqhd', attn, v).reshape(b, n, -1)
    return self.to_out(out)


class Layer(nnx.Module):
  """One pre-norm attention + feed-forward layer."""

  def __init__(self, dim, heads, dim_head, mlp_dim, *, dtype, rngs):
    self.attn_norm = _layer_norm(dim, dtype=dtype, rngs=rngs)
    self.attn = Attention(dim, heads, dim_head, dtype=dtype, rngs=rngs)
    self.ff_norm = _layer_norm(dim, dtype=dtype, rngs=rngs)
    self.fc1 = torch_linear(dim, mlp_dim, dtype=dtype, rngs=rngs)
    self.fc2 = torch_linear(mlp_dim, dim, dtype=dtype, rngs=rngs)

  def __call__(self, x):
    x = x + self.attn(self.attn_norm(x))
    h = nnx.gelu(self.fc1(self.ff_norm(x)), approximate=True)
    return x + self.fc2(h)


class Transformer(nnx.Module):
  """`depth` pre-norm layers (no final LayerNorm)."""

  def __init__(self, dim, depth, heads, dim_head, mlp_dim, *, dtype, rngs):
    self.layers = nnx.List(
      [
        Layer(dim, heads, dim_head, mlp_dim, dtype=dtype, rngs=rngs)
        for _ in range(depth)
      ]
    )

  def __call__(self, x):
    for layer in self.layers:
      x = layer(x)
    return x
