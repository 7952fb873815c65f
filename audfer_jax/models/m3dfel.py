"""M3DFEL (Wang et al., CVPR 2023) as a Flax NNX model on NTHWC clips.

The clip is cut into `num_frames // instance_length` consecutive instances,
each encoded by an R3D-18 trunk. A 2-layer BiLSTM, multi-head self-attention
(no output projection, no residual) and DMIN gate the instance features,
and a 1-D conv over the instance axis pools them into one feature of size
2 * lstm_hidden (1024). Unlike the reference, batch 1 works (no
`.squeeze()`).
"""

from flax import nnx
import jax
import jax.numpy as jnp

from audfer_jax.models import NUM_AUS
from audfer_jax.models import resnet
from audfer_jax.models.r3d import R3DBackbone


class LSTMDirection(nnx.Module):
  """One direction of one layer of PyTorch's nn.LSTM (gate order i, f, g, o).

  `ih` and `hh` both have a bias, as torch's `bias_ih` and `bias_hh`.
  """

  def __init__(self, din, hidden, *, dtype, rngs):
    self.hidden = hidden
    # nn.LSTM initialises every weight and bias with U(+-1/sqrt(hidden)).
    self.ih = resnet.torch_linear(
      din, 4 * hidden, dtype=dtype, rngs=rngs, fan_in=hidden
    )
    self.hh = resnet.torch_linear(hidden, 4 * hidden, dtype=dtype, rngs=rngs)

  def __call__(self, x, reverse=False):
    """x [B, N, din] -> hidden states [B, N, hidden], zero initial state."""
    gates_x = self.ih(x)
    h = c = jnp.zeros((x.shape[0], self.hidden), gates_x.dtype)
    steps = range(x.shape[1])
    outputs = [None] * x.shape[1]
    for t in reversed(steps) if reverse else steps:
      i, f, g, o = jnp.split(gates_x[:, t] + self.hh(h), 4, axis=-1)
      c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
      h = jax.nn.sigmoid(o) * jnp.tanh(c)
      outputs[t] = h
    return jnp.stack(outputs, axis=1)


class BiLSTMLayer(nnx.Module):
  """Forward and backward LSTM, outputs concatenated as [fwd, bwd]."""

  def __init__(self, din, hidden, *, dtype, rngs):
    self.forward = LSTMDirection(din, hidden, dtype=dtype, rngs=rngs)
    self.backward = LSTMDirection(din, hidden, dtype=dtype, rngs=rngs)

  def __call__(self, x):
    return jnp.concatenate(
      [self.forward(x), self.backward(x, reverse=True)], axis=-1
    )


class DMIN(nnx.Module):
  """Dynamic Multi-Instance Normalization over the instance axis.

  Mixes instance-level statistics (per feature, across instances; unbiased
  variance as torch's `.var()`) with bag-level ones (across features) by
  softmax weights. No running statistics: same in train and eval.
  """

  def __init__(self, dim, eps=1e-5):
    self.eps = eps
    self.weight = nnx.Param(jnp.ones((dim,), jnp.float32))
    self.bias = nnx.Param(jnp.zeros((dim,), jnp.float32))
    self.mean_weight = nnx.Param(jnp.ones((2,), jnp.float32))
    self.var_weight = nnx.Param(jnp.ones((2,), jnp.float32))

  def __call__(self, x):
    """x [B, N, C] -> normalised [B, N, C]; statistics in float32."""
    dtype, x = x.dtype, x.astype(jnp.float32)
    mean_in = x.mean(axis=1, keepdims=True)
    var_in = x.var(axis=1, keepdims=True, ddof=1)
    mean_ln = mean_in.mean(axis=2, keepdims=True)
    # The reference's bag variance mixes unbiased var_in with biased moments.
    var_ln = (var_in + mean_in**2).mean(axis=2, keepdims=True) - mean_ln**2
    wm = jax.nn.softmax(self.mean_weight[...])
    wv = jax.nn.softmax(self.var_weight[...])
    mean = wm[0] * mean_in + wm[1] * mean_ln
    var = wv[0] * var_in + wv[1] * var_ln
    y = (x - mean) * jax.lax.rsqrt(var + self.eps)
    return (y * self.weight[...] + self.bias[...]).astype(dtype)


class M3DFEL(nnx.Module):
  """M3DFEL with an expression head and an AU head on its 1024-d feature.

  Args:
    num_classes: expression classes.
    rngs: `params` (or default) stream for init.
    dtype: computation dtype; parameters are always float32.
    widths, num_blocks: the R3D-18 trunk's stages.
    num_frames, instance_length: clip length and frames per 3-D instance.
    lstm_hidden, lstm_layers: BiLSTM size (feature = 2 * lstm_hidden).
    num_heads: attention heads over the BiLSTM outputs.
  """

  def __init__(
    self,
    num_classes,
    *,
    rngs: nnx.Rngs,
    dtype=jnp.float32,
    widths=(64, 128, 256, 512),
    num_blocks=(2, 2, 2, 2),
    num_frames=16,
    instance_length=4,
    lstm_hidden=512,
    lstm_layers=2,
    num_heads=8,
  ):
    if num_frames % instance_length:
      raise ValueError(
        f'num_frames {num_frames} is not a multiple of instance_length '
        f'{instance_length}'
      )
    self.num_frames = num_frames
    self.instance_length = instance_length
    self.bag_size = num_frames // instance_length
    self.num_heads = num_heads
    dim = 2 * lstm_hidden
    self.features = R3DBackbone(
      rngs=rngs, dtype=dtype, widths=widths, num_blocks=num_blocks
    )
    self.lstm = nnx.List(
      [
        BiLSTMLayer(
          self.features.out_dim if i == 0 else dim,
          lstm_hidden,
          dtype=dtype,
          rngs=rngs,
        )
        for i in range(lstm_layers)
      ]
    )
    self.to_qkv = resnet.torch_linear(
      dim, 3 * dim, use_bias=False, dtype=dtype, rngs=rngs
    )
    self.norm = DMIN(dim)
    # nn.Conv1d(bag_size, 1, 3, padding=1): instances are the channels and
    # the kernel slides along the feature axis.
    init = resnet.torch_uniform(3 * self.bag_size)
    self.pwconv = nnx.Conv(
      self.bag_size,
      1,
      kernel_size=(3,),
      padding=((1, 1),),
      kernel_init=init,
      bias_init=init,
      dtype=dtype,
      param_dtype=jnp.float32,
      rngs=rngs,
    )
    self.head = resnet.torch_linear(dim, num_classes, dtype=dtype, rngs=rngs)
    self.au_head = resnet.torch_linear(dim, NUM_AUS, dtype=dtype, rngs=rngs)

  def _attention(self, x):
    """Multi-head self-attention without output projection or residual."""
    b, n, d = x.shape
    q, k, v = jnp.split(self.to_qkv(x), 3, axis=-1)
    q, k, v = (t.reshape(b, n, self.num_heads, -1) for t in (q, k, v))
    scale = q.shape[-1] ** -0.5
    attn = jax.nn.softmax(jnp.einsum('bqhd,bkhd->bhqk', q, k) * scale, -1)
    return jnp.einsum('bhqk,bkhd->bqhd', attn, v).reshape(b, n, d)

  def __call__(self, video, *, return_feature=False):
    """video [B, T, H, W, 3] -> (expr [B, classes], au [B, 18][, feature])."""
    b, t = video.shape[:2]
    if t != self.num_frames:
      raise ValueError(
        f'video must have {self.num_frames} frames, got shape '
        f'{list(video.shape)}'
      )
    instances = video.reshape(
      b * self.bag_size, self.instance_length, *video.shape[2:]
    )
    x = self.features(instances).reshape(b, self.bag_size, -1)
    for layer in self.lstm:
      x = layer(x)
    x = x * jax.nn.sigmoid(self.norm(self._attention(x)))
    # [B, N, C] -> conv over C with the N instances as channels -> [B, C].
    feature = self.pwconv(x.swapaxes(1, 2))[..., 0]
    outputs = (self.head(feature), self.au_head(feature))
    return (*outputs, feature) if return_feature else outputs
