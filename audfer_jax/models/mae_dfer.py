"""MAE-DFER's LGI-Former encoder and the VideoMAE ViT-B, as one Flax model.

`VideoTransformer` defaults to the released MAE-DFER fine-tuning model
(`vit_base_dim512_no_depth_patch16_160`, depth 16, region size 2x5x10,
pooling over the representative tokens). With `attn_type='joint'` it is the
plain VideoMAE ViT with global attention and mean pooling over all patch
tokens (registry name `videomae_vit_b`: embed_dim 768, depth 12, 12 heads).
Both feed two heads, expression and AU, from the same pooled feature.
Their encoder, `Trunk` (patch embedding, region tokens, blocks), is also
the encoder of the pre-training model (`mae_pretrain.py`).

For layer-wise lr decay, `lr_scales(model, decay)` gives every parameter
its multiplier (see its docstring).
"""

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from audfer_jax.models import NUM_AUS
from audfer_jax.models import vit_blocks


def _head(dim, num_out, init_scale, *, dtype, rngs):
  """Linear head: trunc-normal .02 weights, then weight and bias x scale.

  The bias starts at zero, so scaling it is a no-op.
  """
  return nnx.Linear(
    dim,
    num_out,
    kernel_init=nnx.initializers.truncated_normal(stddev=0.02 * init_scale),
    dtype=dtype,
    param_dtype=jnp.float32,
    rngs=rngs,
  )


class Trunk(nnx.Module):
  """Patch embedding, region tokens and blocks: the encoder that MAE-DFER's
  fine-tuning model (`VideoTransformer`) and its pre-training model
  (`mae_pretrain.Encoder`) share, under the authors' parameter names.

  Args:
    rngs: `params` (or default) stream for init, `dropout` for drop path.
    dtype: computation dtype; parameters are always float32.
    embed_dim, depth, num_heads, mlp_ratio: transformer size.
    img_size, patch_size, num_frames, tubelet_size: the clip the model takes
      (the region layout depends on the token grid, so it is fixed).
    attn_type: 'local_global' (LGI-Former) or 'joint' (VideoMAE).
    region_size: (t, h, w) tokens per region, local_global only.
    drop_path_rate: stochastic depth, linear from 0 over the blocks.
  """

  def __init__(
    self,
    *,
    rngs: nnx.Rngs,
    dtype,
    embed_dim,
    depth,
    num_heads,
    mlp_ratio,
    img_size,
    patch_size,
    num_frames,
    tubelet_size,
    attn_type,
    region_size,
    drop_path_rate,
  ):
    if attn_type not in ('local_global', 'joint'):
      raise ValueError(
        f"attn_type must be 'local_global' or 'joint', got {attn_type!r}"
      )
    if img_size % patch_size or num_frames % tubelet_size:
      raise ValueError(
        f'clip {num_frames}x{img_size}x{img_size} is not divisible into '
        f'{tubelet_size}x{patch_size}x{patch_size} patches'
      )
    self.attn_type = attn_type
    self.dtype = dtype
    self.clip_shape = (num_frames, img_size, img_size, 3)
    self.grid = (
      num_frames // tubelet_size,
      img_size // patch_size,
      img_size // patch_size,
    )
    self.depth = depth
    patch = (tubelet_size, patch_size, patch_size)
    fan_in = 3 * int(np.prod(patch))
    # PyTorch's default Conv3d init: U(+-1/sqrt(fan_in)) for weight and bias.
    bound = fan_in**-0.5
    self.patch_embed = nnx.Conv(
      3,
      embed_dim,
      kernel_size=patch,
      strides=patch,
      padding=((0, 0),) * 3,
      kernel_init=nnx.initializers.variance_scaling(1 / 3, 'fan_in', 'uniform'),
      bias_init=lambda key, shape, dt: jax.random.uniform(
        key, shape, dt, -bound, bound
      ),
      dtype=dtype,
      param_dtype=jnp.float32,
      rngs=rngs,
    )
    if attn_type == 'local_global':
      region_size = tuple(region_size)
      if any(g % r for g, r in zip(self.grid, region_size, strict=True)):
        raise ValueError(
          f'region_size {region_size} does not divide the token grid '
          f'{self.grid}'
        )
      self.region_size = region_size
      num_regions = int(np.prod(self.grid) // np.prod(region_size))
      self.lg_region_tokens = nnx.Param(
        nnx.initializers.truncated_normal(stddev=0.02)(
          rngs.params(), (num_regions, embed_dim), jnp.float32
        )
      )
      block_cls = vit_blocks.LGBlock
    else:
      block_cls = vit_blocks.Block
    rates = np.linspace(0.0, drop_path_rate, depth)
    self.blocks = nnx.List(
      [
        block_cls(
          embed_dim, num_heads, mlp_ratio, float(rate), dtype=dtype, rngs=rngs
        )
        for rate in rates
      ]
    )

  def embed(self, video):
    """video [B, T, H, W, 3] -> tokens [B, N, C] in (t, h, w) order, with
    their sin-cos positions."""
    if video.shape[1:] != self.clip_shape:
      raise ValueError(
        f'video must be [B, {", ".join(map(str, self.clip_shape))}], got '
        f'{list(video.shape)}'
      )
    x = self.patch_embed(video.astype(self.dtype))
    x = x.reshape(x.shape[0], -1, x.shape[-1])  # t, h, w token order
    table = vit_blocks.sincos_table(x.shape[1], x.shape[2])
    return x + jnp.asarray(table, self.dtype)

  def with_region_tokens(self, x):
    """[B, R, S, C] tokens of R regions -> [B, R, 1 + S, C], each region's
    representative token first."""
    b, r, _, c = x.shape
    rep = self.lg_region_tokens[...].astype(x.dtype)
    rep = jnp.broadcast_to(rep[None, :, None], (b, r, 1, c))
    return jnp.concatenate([rep, x], axis=2)

  def run_blocks(self, x):
    for block in self.blocks:
      x = block(x)
    return x


class VideoTransformer(Trunk):
  """Video ViT on NTHWC clips: LGI-Former (default) or joint-attention ViT.

  Args:
    num_classes: expression classes.
    init_scale: head weight scale after trunc-normal init.
    The others: `Trunk`'s.
  """

  def __init__(
    self,
    num_classes,
    *,
    rngs: nnx.Rngs,
    dtype=jnp.float32,
    embed_dim=512,
    depth=16,
    num_heads=8,
    mlp_ratio=4.0,
    img_size=160,
    patch_size=16,
    num_frames=16,
    tubelet_size=2,
    attn_type='local_global',
    region_size=(2, 5, 10),
    drop_path_rate=0.1,
    init_scale=0.001,
  ):
    super().__init__(
      rngs=rngs,
      dtype=dtype,
      embed_dim=embed_dim,
      depth=depth,
      num_heads=num_heads,
      mlp_ratio=mlp_ratio,
      img_size=img_size,
      patch_size=patch_size,
      num_frames=num_frames,
      tubelet_size=tubelet_size,
      attn_type=attn_type,
      region_size=region_size,
      drop_path_rate=drop_path_rate,
    )
    self.fc_norm = vit_blocks.layer_norm(embed_dim, dtype, rngs)
    self.head = _head(
      embed_dim, num_classes, init_scale, dtype=dtype, rngs=rngs
    )
    self.au_head = _head(embed_dim, NUM_AUS, init_scale, dtype=dtype, rngs=rngs)

  def _regions(self, x):
    """[B, T'H'W', C] tokens -> [B, R, 1 + S, C] with representative first."""
    b, _, c = x.shape
    (gt, gh, gw), (t, h, w) = self.grid, self.region_size
    x = x.reshape(b, gt // t, t, gh // h, h, gw // w, w, c)
    x = x.transpose(0, 1, 3, 5, 2, 4, 6, 7).reshape(b, -1, t * h * w, c)
    return self.with_region_tokens(x)

  def __call__(self, video, *, return_feature=False):
    """video [B, T, H, W, 3] -> (expr [B, classes], au [B, 18][, feature])."""
    x = self.embed(video)
    if self.attn_type == 'local_global':
      x = self.run_blocks(self._regions(x))
      pooled = x[:, :, 0].mean(axis=1)  # representative tokens only
    else:
      pooled = self.run_blocks(x).mean(axis=1)
    feature = self.fc_norm(pooled)
    outputs = (self.head(feature), self.au_head(feature))
    return (*outputs, feature) if return_feature else outputs


def _layer_id(path, depth) -> int:
  if path[0] == 'patch_embed':
    return 0
  if path[0] == 'blocks':
    return int(path[1]) + 1
  return depth + 1  # region tokens, fc_norm and the heads


def layer_ids(model: VideoTransformer) -> dict[str, int]:
  """Layer id of every parameter path ('/'-joined), as MAE-DFER assigns them.

  patch_embed -> 0, blocks/i -> i + 1, everything else (region tokens,
  fc_norm, heads) -> depth + 1.
  """
  params = nnx.state(model, nnx.Param)
  return {
    '/'.join(map(str, path)): _layer_id(path, model.depth)
    for path, _ in nnx.to_flat_state(params)
  }


def lr_scales(model: VideoTransformer, decay: float) -> nnx.State:
  """Per-parameter lr multipliers decay ** (depth + 1 - layer_id).

  Returns a tree shaped like `nnx.state(model, nnx.Param)` with float leaves
  (patch embed gets decay ** (depth + 1), region tokens, fc_norm and the
  heads 1.0), as MAE-DFER's LayerDecayValueAssigner. Apply it after the
  optimizer, which scales the whole AdamW step (weight decay included) like
  a per-layer lr:
  `optax.chain(optax.adamw(...), optax.stateless(
      lambda updates, _: jax.tree.map(jnp.multiply, updates, scales)))`.
  """
  top = model.depth + 1
  return nnx.map_state(
    lambda path, _: decay ** (top - _layer_id(path, model.depth)),
    nnx.state(model, nnx.Param),
  )
