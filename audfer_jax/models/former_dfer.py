"""Former-DFER (Zhao & Liu, ACM MM 2021) as a Flax NNX model on NTHWC clips.

S-Former: a 2-D ResNet-18 applied to every frame, with one spatial
transformer layer on the stage-3 tokens (as released; the paper describes
more). T-Former: a class token plus the per-frame features through 3
transformer layers; the class token output is the 512-d feature.
"""

from flax import nnx
import jax
import jax.numpy as jnp

from audfer_jax.models import NUM_AUS
from audfer_jax.models import max_pool
from audfer_jax.models import resnet
from audfer_jax.models.transformer import Transformer


def _randn(rngs, shape):
  """torch.randn-style parameter (standard normal)."""
  return nnx.Param(jax.random.normal(rngs.params(), shape, jnp.float32))


class SFormer(nnx.Module):
  """Per-frame ResNet-18 with a spatial transformer after stage 3.

  Maps frames [N, H, W, 3] to features [N, widths[-1]].
  """

  def __init__(
    self,
    *,
    rngs,
    dtype,
    widths,
    num_blocks,
    image_size,
    depth,
    heads,
    dim_head,
    mlp_dim,
  ):
    self.dtype = dtype
    self.conv1 = resnet.conv(
      3, widths[0], (7, 7), (2, 2), (3, 3), dtype=dtype, rngs=rngs
    )
    self.bn1 = resnet.batch_norm(widths[0], dtype=dtype, rngs=rngs)
    self.stages = resnet.resnet_stages(
      widths[0], widths, num_blocks, 2, dtype=dtype, rngs=rngs
    )
    # conv1 and max-pool halve the size, stages 2 and 3 halve it again.
    grid = image_size
    for _ in range(4):
      grid = (grid + 1) // 2
    self.pos_embedding = _randn(rngs, (grid * grid, widths[2]))
    self.transformer = Transformer(
      widths[2], depth, heads, dim_head, mlp_dim, dtype=dtype, rngs=rngs
    )

  def __call__(self, frames):
    x = nnx.relu(self.bn1(self.conv1(frames.astype(self.dtype))))
    x = max_pool.max_pool_3x3_s2(x)
    for stage in self.stages[:3]:
      x = stage(x)
    n, h, w, c = x.shape
    tokens = x.reshape(n, h * w, c)  # row-major, as torch's flatten(2)
    if tokens.shape[1] != self.pos_embedding.shape[0]:
      raise ValueError(
        f'frames {list(frames.shape[1:3])} give {h}x{w} stage-3 tokens, the '
        f'position embedding has {self.pos_embedding.shape[0]}'
      )
    tokens = tokens + self.pos_embedding[...].astype(x.dtype)
    x = self.transformer(tokens).reshape(n, h, w, c)
    x = self.stages[3](x)
    return x.mean(axis=(1, 2))


class TFormer(nnx.Module):
  """Class token + frame features through a transformer; returns the token."""

  def __init__(
    self, *, rngs, dtype, dim, num_frames, depth, heads, dim_head, mlp_dim
  ):
    self.cls_token = _randn(rngs, (dim,))
    self.pos_embedding = _randn(rngs, (num_frames + 1, dim))
    self.transformer = Transformer(
      dim, depth, heads, dim_head, mlp_dim, dtype=dtype, rngs=rngs
    )

  def __call__(self, x):
    b, _, d = x.shape
    cls = jnp.broadcast_to(self.cls_token[...].astype(x.dtype), (b, 1, d))
    x = jnp.concatenate([cls, x], axis=1)
    x = x + self.pos_embedding[...].astype(x.dtype)
    return self.transformer(x)[:, 0]


class FormerDFER(nnx.Module):
  """Former-DFER with an expression head and an AU head on its feature.

  Args:
    num_classes: expression classes.
    rngs: `params` (or default) stream for init.
    dtype: computation dtype; parameters are always float32.
    widths, num_blocks: the ResNet-18 trunk's stages.
    image_size, num_frames: the clip the model takes (they size the position
      embeddings).
    s_*, t_*: spatial and temporal transformer sizes.
  """

  def __init__(
    self,
    num_classes,
    *,
    rngs: nnx.Rngs,
    dtype=jnp.float32,
    widths=(64, 128, 256, 512),
    num_blocks=(2, 2, 2, 2),
    image_size=112,
    num_frames=16,
    s_depth=1,
    s_heads=8,
    s_dim_head=32,
    s_mlp_dim=512,
    t_depth=3,
    t_heads=8,
    t_dim_head=64,
    t_mlp_dim=1024,
  ):
    self.num_frames = num_frames
    self.s_former = SFormer(
      rngs=rngs,
      dtype=dtype,
      widths=widths,
      num_blocks=num_blocks,
      image_size=image_size,
      depth=s_depth,
      heads=s_heads,
      dim_head=s_dim_head,
      mlp_dim=s_mlp_dim,
    )
    dim = widths[-1]
    self.t_former = TFormer(
      rngs=rngs,
      dtype=dtype,
      dim=dim,
      num_frames=num_frames,
      depth=t_depth,
      heads=t_heads,
      dim_head=t_dim_head,
      mlp_dim=t_mlp_dim,
    )
    self.head = resnet.torch_linear(dim, num_classes, dtype=dtype, rngs=rngs)
    self.au_head = resnet.torch_linear(dim, NUM_AUS, dtype=dtype, rngs=rngs)

  def __call__(self, video, *, return_feature=False):
    """video [B, T, H, W, 3] -> (expr [B, classes], au [B, 18][, feature])."""
    b, t = video.shape[:2]
    if t != self.num_frames:
      raise ValueError(
        f'video must have {self.num_frames} frames, got shape '
        f'{list(video.shape)}'
      )
    x = self.s_former(video.reshape(b * t, *video.shape[2:]))
    feature = self.t_former(x.reshape(b, t, -1))
    outputs = (self.head(feature), self.au_head(feature))
    return (*outputs, feature) if return_feature else outputs
