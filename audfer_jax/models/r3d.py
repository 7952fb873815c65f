"""torchvision's R3D-18 (`r3d_18`) as a Flax NNX model on NTHWC clips.

`R3DBackbone` is the trunk without classifier (stem, 4 stages of 3-D
BasicBlocks, global average pool); M3DFEL reuses it. `R3D` adds the
expression and AU heads.
"""

from flax import nnx
import jax.numpy as jnp

from audfer_jax.models import NUM_AUS
from audfer_jax.models import resnet


class R3DBackbone(nnx.Module):
  """Stem conv (3,7,7)/(1,2,2) + BN + ReLU (no max-pool), 4 stages, pool.

  Maps [B, T, H, W, 3] to a [B, widths[-1]] feature.
  """

  def __init__(
    self,
    *,
    rngs: nnx.Rngs,
    dtype=jnp.float32,
    widths=(64, 128, 256, 512),
    num_blocks=(2, 2, 2, 2),
  ):
    self.dtype = dtype
    self.stem_conv = resnet.conv(
      3, widths[0], (3, 7, 7), (1, 2, 2), (1, 3, 3), dtype=dtype, rngs=rngs
    )
    self.stem_bn = resnet.batch_norm(widths[0], dtype=dtype, rngs=rngs)
    self.stages = resnet.resnet_stages(
      widths[0], widths, num_blocks, 3, dtype=dtype, rngs=rngs
    )
    self.out_dim = widths[-1]

  def __call__(self, video):
    x = nnx.relu(self.stem_bn(self.stem_conv(video.astype(self.dtype))))
    for stage in self.stages:
      x = stage(x)
    return x.mean(axis=(1, 2, 3))


class R3D(nnx.Module):
  """R3D-18 classifier with an expression head and an AU head.

  Args:
    num_classes: expression classes.
    rngs: `params` (or default) stream for init.
    dtype: computation dtype; parameters are always float32.
    widths, num_blocks: channels and blocks of the 4 stages (R3D-18 default).
  """

  def __init__(
    self,
    num_classes,
    *,
    rngs: nnx.Rngs,
    dtype=jnp.float32,
    widths=(64, 128, 256, 512),
    num_blocks=(2, 2, 2, 2),
  ):
    self.backbone = R3DBackbone(
      rngs=rngs, dtype=dtype, widths=widths, num_blocks=num_blocks
    )
    dim = self.backbone.out_dim
    self.head = _fc(dim, num_classes, dtype=dtype, rngs=rngs)
    self.au_head = _fc(dim, NUM_AUS, dtype=dtype, rngs=rngs)

  def __call__(self, video, *, return_feature=False):
    """video [B, T, H, W, 3] -> (expr [B, classes], au [B, 18][, feature])."""
    feature = self.backbone(video)
    outputs = (self.head(feature), self.au_head(feature))
    return (*outputs, feature) if return_feature else outputs


def _fc(din, dout, *, dtype, rngs):
  """torchvision's video-ResNet classifier init: N(0, 0.01), zero bias."""
  return nnx.Linear(
    din,
    dout,
    kernel_init=nnx.initializers.normal(0.01),
    dtype=dtype,
    param_dtype=jnp.float32,
    rngs=rngs,
  )
