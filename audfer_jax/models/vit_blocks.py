"""Transformer blocks shared by the MAE-DFER LGI-Former and VideoMAE ViT.

Layer names follow MAE-DFER's `modeling_finetune.py` so that checkpoint
conversion is a rename plus a transpose. Attention keeps separate `q` and
`kv` projections with separate `q_bias`/`v_bias` parameters (k has no bias),
exactly as MAE-DFER's `GeneralAttention`; the joint ViT uses the same module
(its fused torch `qkv` weight is split at conversion time).
"""

import functools

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

LN_EPS = 1e-6  # MAE-DFER builds every LayerNorm with eps 1e-6.
_linear_init = nnx.initializers.truncated_normal(stddev=0.02)


@functools.lru_cache(maxsize=8)
def sincos_table(num_positions: int, dim: int) -> np.ndarray:
  """Fixed sinusoid position table [num_positions, dim], float32.

  Angle = pos / 10000^(2 * (j // 2) / dim); even channels take sin, odd
  channels cos (interleaved). Built in float64 as the reference does.
  """
  pos = np.arange(num_positions, dtype=np.float64)[:, None]
  j = np.arange(dim)
  angle = pos / np.power(10000.0, 2 * (j // 2) / dim)
  table = np.where(j % 2 == 0, np.sin(angle), np.cos(angle))
  table = table.astype(np.float32)
  table.setflags(write=False)  # shared by the cache
  return table


def layer_norm(dim, dtype, rngs):
  return nnx.LayerNorm(
    dim, epsilon=LN_EPS, dtype=dtype, param_dtype=jnp.float32, rngs=rngs
  )


def linear(din, dout, dtype, rngs, use_bias=True):
  """Linear layer with the reference init (trunc-normal .02, zero bias)."""
  return nnx.Linear(
    din,
    dout,
    use_bias=use_bias,
    kernel_init=_linear_init,
    dtype=dtype,
    param_dtype=jnp.float32,
    rngs=rngs,
  )


class Attention(nnx.Module):
  """Multi-head self- or cross-attention (MAE-DFER `GeneralAttention`)."""

  def __init__(self, dim, num_heads, *, dtype, rngs):
    self.num_heads = num_heads
    self.dtype = dtype
    self.q = linear(dim, dim, dtype, rngs, use_bias=False)
    self.kv = linear(dim, 2 * dim, dtype, rngs, use_bias=False)
    self.q_bias = nnx.Param(jnp.zeros((dim,), jnp.float32))
    self.v_bias = nnx.Param(jnp.zeros((dim,), jnp.float32))
    self.proj = linear(dim, dim, dtype, rngs)

  def __call__(self, x, context=None):
    """x [B, T1, C] attends to context [B, T2, C] (x itself if None)."""
    context = x if context is None else context
    b, t1, c = x.shape
    t2 = context.shape[1]
    h = self.num_heads
    q = self.q(x) + self.q_bias[...].astype(self.dtype)
    k, v = jnp.split(self.kv(context), 2, axis=-1)  # first C are k
    v = v + self.v_bias[...].astype(self.dtype)
    q = q.reshape(b, t1, h, c // h) * (c // h) ** -0.5
    k = k.reshape(b, t2, h, c // h)
    v = v.reshape(b, t2, h, c // h)
    logits = jnp.einsum('bqhd,bkhd->bhqk', q, k)
    # Softmax in float32 so that bfloat16 compute stays stable.
    weights = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)
    out = jnp.einsum('bhqk,bkhd->bqhd', weights.astype(self.dtype), v)
    return self.proj(out.reshape(b, t1, c))


class Mlp(nnx.Module):
  """fc1 -> exact GELU -> fc2."""

  def __init__(self, dim, hidden, *, dtype, rngs):
    self.fc1 = linear(dim, hidden, dtype, rngs)
    self.fc2 = linear(hidden, dim, dtype, rngs)

  def __call__(self, x):
    return self.fc2(jax.nn.gelu(self.fc1(x), approximate=False))


def drop_path(rate, rngs):
  """Stochastic depth on [B, N, C]: one keep/drop draw per sample.

  Dropout whose mask is broadcast over tokens and channels is timm's
  `drop_path` (x / keep_prob on kept samples, 0 otherwise).
  """
  return nnx.Dropout(rate, broadcast_dims=(1, 2), rngs=rngs)


class Block(nnx.Module):
  """Pre-norm ViT block with global (joint) self-attention (VideoMAE)."""

  def __init__(self, dim, num_heads, mlp_ratio, drop_path_rate, *, dtype, rngs):
    self.norm1 = layer_norm(dim, dtype, rngs)
    self.attn = Attention(dim, num_heads, dtype=dtype, rngs=rngs)
    self.norm2 = layer_norm(dim, dtype, rngs)
    self.mlp = Mlp(dim, int(dim * mlp_ratio), dtype=dtype, rngs=rngs)
    self.drop_path = drop_path(drop_path_rate, rngs)

  def __call__(self, x):
    """x [B, N, C] -> [B, N, C]."""
    x = x + self.drop_path(self.attn(self.norm1(x)))
    return x + self.drop_path(self.mlp(self.norm2(x)))


class LGBlock(nnx.Module):
  """LGI-Former block: local, global and local-global attention, then FFN.

  Works on regions [B, R, 1 + S, C] whose token 0 is the region's
  representative token and whose S other tokens are the region's patches.
  """

  def __init__(self, dim, num_heads, mlp_ratio, drop_path_rate, *, dtype, rngs):
    def attention():
      return Attention(dim, num_heads, dtype=dtype, rngs=rngs)

    self.first_attn_norm0 = layer_norm(dim, dtype, rngs)
    self.first_attn = attention()
    self.second_attn_norm0 = layer_norm(dim, dtype, rngs)
    self.second_attn = attention()
    self.third_attn_norm0 = layer_norm(dim, dtype, rngs)
    self.third_attn_norm1 = layer_norm(dim, dtype, rngs)
    self.third_attn = attention()
    self.norm2 = layer_norm(dim, dtype, rngs)
    self.mlp = Mlp(dim, int(dim * mlp_ratio), dtype=dtype, rngs=rngs)
    self.drop_path = drop_path(drop_path_rate, rngs)

  def __call__(self, x):
    """x [B, R, 1 + S, C] -> [B, R, 1 + S, C]."""
    b, r, s1, c = x.shape
    dp = self.drop_path
    # 1. Intra-region self-attention (representative + local tokens); drop
    # path draws per (sample, region) as in the reference's (B*R, ...) layout.
    x = x.reshape(b * r, s1, c)
    x = x + dp(self.first_attn(self.first_attn_norm0(x)))
    x = x.reshape(b, r, s1, c)
    # 2. Inter-region self-attention among the R representative tokens.
    rep = x[:, :, 0]
    rep = rep + dp(self.second_attn(self.second_attn_norm0(rep)))
    # 3. Every local token queries the updated representative tokens.
    loc = x[:, :, 1:].reshape(b, r * (s1 - 1), c)
    ctx = self.third_attn_norm1(rep)
    loc = loc + dp(self.third_attn(self.third_attn_norm0(loc), ctx))
    x = jnp.concatenate([rep[:, :, None], loc.reshape(b, r, s1 - 1, c)], 2)
    # 4. FFN on all tokens, again per (sample, region).
    x = x.reshape(b * r, s1, c)
    x = x + dp(self.mlp(self.norm2(x)))
    return x.reshape(b, r, s1, c)
