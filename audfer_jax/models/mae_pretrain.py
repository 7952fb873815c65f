"""MAE-DFER's masked-autoencoder pre-training model and objective.

`MaskedAutoencoder` is sunlicai/MAE-DFER `modeling_pretrain.py`
`PretrainVisionTransformer`
(`pretrain_videomae_base_dim512_no_depth_patch16_160` with the VoxCeleb2
script's encoder depth 16, decoder depth 4, LGI-Former regions 2 x 5 x 10),
under its parameter names: `encoder` (the fine-tuning
model's trunk, `mae_dfer.Trunk`, plus a final `norm`), `encoder_to_decoder`,
`mask_token` and `decoder`. Its forward computes the loss of
`engine_for_pretraining.py` too: the MSE between the decoder's output on
the masked tokens and `reconstruction_targets` (patch-normalised pixels,
with `--use_frame_diff_as_target`'s frame differences).

The encoder sees the visible tokens only. As the authors' code, it returns
them region by region, while the decoder adds the position embeddings of
the visible tokens in (t, h, w) order: with LGI regions spanning two token
frames, the visible tokens' positions are permuted inside each region. The
masked tokens, which the loss reads, get their own positions; the released
decoder was trained so, and it is kept.
"""

from typing import NamedTuple

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from audfer_jax.models import mae_dfer
from audfer_jax.models import masking
from audfer_jax.models import vit_blocks

# The pixel normalisation the authors' clips arrive with (timm's
# IMAGENET_DEFAULT_MEAN/STD), undone for the targets.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Reconstruction(NamedTuple):
  """`MaskedAutoencoder`'s outputs, for the masked tokens in token order."""

  loss: jax.Array  # MSE of pred against target, float32 scalar
  pred: jax.Array  # decoder output [B, N_masked, tubelet * p * p * 3]
  target: jax.Array  # `reconstruction_targets` there, float32


def reconstruction_targets(
  video, patch_size, tubelet_size=2, *, normalize=True, frame_diff_group=2
):
  """Per-token pixel targets of clips in [0, 1], as MAE-DFER computes them.

  Args:
    video: [B, T, H, W, 3] pixels in [0, 1].
    patch_size, tubelet_size: the token's patch.
    normalize: each token's pixels minus their mean over the patch, over
      their standard deviation (unbiased) + 1e-6, per channel (the authors'
      `--normlize_target`, always on: argparse's `type=bool`).
    frame_diff_group: `--use_frame_diff_as_target` with
      `--frame_diff_group_size` (0: off). In each group of that many frames
      the first keeps its (normalised) pixels and the others become their
      difference to it; the VoxCeleb2 script's group of 2 makes every
      token's target its first frame's appearance and the second frame's
      motion.

  Returns:
    float32 [B, N, tubelet * p * p * 3] in (t, h, w) token order, each
    token's values in (frame, row, column, channel) order.
  """
  b, t, h, w, c = video.shape
  p, q = patch_size, tubelet_size
  grid = (t // q, h // p, w // p)
  x = video.astype(jnp.float32).reshape(
    b, grid[0], q, grid[1], p, grid[2], p, c
  )
  x = x.transpose(0, 1, 3, 5, 2, 4, 6, 7).reshape(b, -1, q * p * p, c)
  if normalize:
    mean = x.mean(axis=2, keepdims=True)
    std = jnp.sqrt(x.var(axis=2, ddof=1, keepdims=True))
    x = (x - mean) / (std + 1e-6)
  if frame_diff_group:
    x = x.reshape(b, *grid, q, p, p, c).transpose(0, 1, 4, 2, 5, 3, 6, 7)
    frames = x.reshape(b, t, h, w, c)
    first = jnp.repeat(frames[:, ::frame_diff_group], frame_diff_group, 1)
    is_first = (jnp.arange(t) % frame_diff_group == 0)[:, None, None, None]
    frames = jnp.where(is_first, frames, frames - first)
    x = frames.reshape(b, grid[0], q, grid[1], p, grid[2], p, c)
    x = x.transpose(0, 1, 3, 5, 2, 4, 6, 7)
  return x.reshape(b, int(np.prod(grid)), -1)


class Encoder(mae_dfer.Trunk):
  """The LGI-Former (or joint ViT) on the visible tokens, then a LayerNorm."""

  def __init__(self, *, rngs, dtype, embed_dim, **trunk):
    super().__init__(rngs=rngs, dtype=dtype, embed_dim=embed_dim, **trunk)
    self.norm = vit_blocks.layer_norm(embed_dim, dtype, rngs)

  def __call__(self, video, visible):
    """video [B, T, H, W, 3], visible token indices [B, N_vis] ascending
    -> [B, N_vis, C]: region by region with LGI regions (the docstring of
    the module), in `visible`'s order otherwise."""
    x = self.embed(video)
    x = jnp.take_along_axis(x, visible[..., None], axis=1)
    if self.attn_type == 'joint':
      return self.norm(self.run_blocks(x))
    b, n, c = x.shape
    (gt, gh, gw), (t, h, w) = self.grid, self.region_size
    per_frame = (gh // h) * (gw // w)  # regions in a token frame
    if n % (gt * per_frame):
      raise ValueError(
        f'{n} visible tokens do not split evenly over the {gt} token frames '
        f'x {per_frame} regions of a frame'
      )
    # The authors' rearrange 'b (nt t nhw hw) c -> b (nt nhw) (t hw) c': the
    # visible tokens of each frame, in order, cut into one run per region.
    hw = n // (gt * per_frame)
    x = x.reshape(b, gt // t, t, per_frame, hw, c).transpose(0, 1, 3, 2, 4, 5)
    x = self.run_blocks(self.with_region_tokens(x.reshape(b, -1, t * hw, c)))
    return self.norm(x[:, :, 1:].reshape(b, n, c))


class Decoder(nnx.Module):
  """Joint-attention blocks, a LayerNorm and the pixel head."""

  def __init__(self, dim, depth, num_heads, mlp_ratio, out_dim, *, dtype, rngs):
    self.blocks = nnx.List(
      [
        vit_blocks.Block(dim, num_heads, mlp_ratio, 0.0, dtype=dtype, rngs=rngs)
        for _ in range(depth)
      ]
    )
    self.norm = vit_blocks.layer_norm(dim, dtype, rngs)
    self.head = vit_blocks.linear(dim, out_dim, dtype, rngs)

  def __call__(self, x, num_out):
    """x [B, N, C] -> the head's output on its last `num_out` tokens."""
    for block in self.blocks:
      x = block(x)
    return self.head(self.norm(x[:, -num_out:]))


class MaskedAutoencoder(nnx.Module):
  """MAE-DFER's pre-training model (the module's docstring).

  `model(video, mask)` -> `Reconstruction` (loss, pred, target);
  `model.masks(key, batch_size)` draws masks of the model's kind.

  Args:
    rngs: `params` (or default) stream for init, `dropout` for drop path.
    dtype: computation dtype; parameters are always float32.
    embed_dim, depth, num_heads, attn_type, region_size, drop_path_rate:
      the encoder (`mae_dfer.Trunk`); drop path is the authors' `--drop_path`
      (0), for the decoder too.
    decoder_dim, decoder_depth, decoder_heads: the decoder.
    mlp_ratio, img_size, patch_size, num_frames, tubelet_size: both.
    mask_type, mask_ratio, mask_window: the masks (`masking`), 'tube' or
      'part_window' with the (h, w) window of `--part_win_size`'s last two.
    normalize_target, frame_diff_group: `reconstruction_targets`'s.
    pixel_mean, pixel_std: the normalisation of the input clips, undone
      for the targets (ImageNet's, as the authors' and `normalize='imagenet'`).
  """

  def __init__(
    self,
    *,
    rngs: nnx.Rngs,
    dtype=jnp.float32,
    embed_dim=512,
    depth=16,
    num_heads=8,
    decoder_dim=384,
    decoder_depth=4,
    decoder_heads=6,
    mlp_ratio=4.0,
    img_size=160,
    patch_size=16,
    num_frames=16,
    tubelet_size=2,
    attn_type='local_global',
    region_size=(2, 5, 10),
    drop_path_rate=0.0,
    mask_type='part_window',
    mask_ratio=0.9,
    mask_window=(5, 10),
    normalize_target=True,
    frame_diff_group=2,
    pixel_mean=IMAGENET_MEAN,
    pixel_std=IMAGENET_STD,
  ):
    if frame_diff_group and num_frames % frame_diff_group:
      raise ValueError(
        f'frame_diff_group {frame_diff_group} does not divide num_frames '
        f'{num_frames}'
      )
    self.dtype = dtype
    self.encoder = Encoder(
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
    grid = self.encoder.grid
    self.mask_type, self.mask_ratio = mask_type, mask_ratio
    self.mask_window = masking.window_of(mask_type, grid, mask_window)
    self.num_masked = masking.num_masked(grid, mask_ratio, self.mask_window)
    self.num_tokens = int(np.prod(grid))
    self.patch_size, self.tubelet_size = patch_size, tubelet_size
    self.normalize_target = normalize_target
    self.frame_diff_group = frame_diff_group
    self.pixel_mean, self.pixel_std = tuple(pixel_mean), tuple(pixel_std)
    out_dim = 3 * tubelet_size * patch_size**2
    self.decoder = Decoder(
      decoder_dim,
      decoder_depth,
      decoder_heads,
      mlp_ratio,
      out_dim,
      dtype=dtype,
      rngs=rngs,
    )
    # PyTorch's default Linear init (the authors re-initialise the encoder
    # and the decoder only): U(+-1/sqrt(fan_in)).
    self.encoder_to_decoder = nnx.Linear(
      embed_dim,
      decoder_dim,
      use_bias=False,
      kernel_init=nnx.initializers.variance_scaling(1 / 3, 'fan_in', 'uniform'),
      dtype=dtype,
      param_dtype=jnp.float32,
      rngs=rngs,
    )
    self.mask_token = nnx.Param(
      _trunc_normal_1_std(rngs.params(), (1, 1, decoder_dim))
    )
    _authors_init(self, rngs)

  def masks(self, key, batch_size):
    """bool [batch_size, N] masks of the model's kind (`masking`)."""
    return masking.tube_masks(
      key, batch_size, self.encoder.grid, self.mask_ratio, self.mask_window
    )

  def targets(self, video):
    """`reconstruction_targets` of input clips (normalised as the model's
    input): float32 [B, N, tubelet * p * p * 3]."""
    pixels = video.astype(jnp.float32) * jnp.asarray(self.pixel_std)
    return reconstruction_targets(
      pixels + jnp.asarray(self.pixel_mean),
      self.patch_size,
      self.tubelet_size,
      normalize=self.normalize_target,
      frame_diff_group=self.frame_diff_group,
    )

  def __call__(self, video, mask):
    """video [B, T, H, W, 3] (normalised), mask bool [B, N] (True: hidden;
    exactly `num_masked` per clip, as `masks` draws) -> `Reconstruction`."""
    if mask.shape[1:] != (self.num_tokens,):
      raise ValueError(
        f'mask must be [B, {self.num_tokens}], got {list(mask.shape)}'
      )
    num_visible = self.num_tokens - self.num_masked
    # Visible tokens first, then the masked ones, each in token order: the
    # order of the authors' x[~mask] and x[mask].
    order = jnp.argsort(mask, axis=1, stable=True)
    visible, hidden = order[:, :num_visible], order[:, num_visible:]
    x = self.encoder_to_decoder(self.encoder(video, visible))
    table = vit_blocks.sincos_table(self.num_tokens, x.shape[-1])
    pos = jnp.asarray(table, self.dtype)
    x = jnp.concatenate(
      [x + pos[visible], self.mask_token[...].astype(self.dtype) + pos[hidden]],
      axis=1,
    )
    pred = self.decoder(x, self.num_masked)
    target = jnp.take_along_axis(self.targets(video), hidden[..., None], 1)
    loss = jnp.mean(jnp.square(pred.astype(jnp.float32) - target))
    return Reconstruction(loss, pred, target)


def _trunc_normal_1_std(key, shape):
  """N(0, .02) truncated at +-.02: the authors' `trunc_normal_(std=.02)` of
  modeling_pretrain.py (it passes a=-std, b=std)."""
  return nnx.initializers.truncated_normal(0.02, lower=-1.0, upper=1.0)(
    key, shape, jnp.float32
  )


def _xavier(key, shape, fan_in, fan_out):
  bound = np.sqrt(6.0 / (fan_in + fan_out))
  return jax.random.uniform(key, shape, jnp.float32, -bound, bound)


def _authors_init(model, rngs):
  """The encoder's and the decoder's init of modeling_pretrain.py.

  Their `_init_weights` gives every Linear weight Xavier-uniform bounds
  (biases and LayerNorms are already PyTorch's): of its own shape for the
  LGI attention's `q` and `kv`, and of the fused (3C, C) `qkv` for the
  joint blocks' attention (one torch Linear split in two here). The
  region tokens are `_trunc_normal_1_std`.
  """
  fused = set()
  for block in (*model.decoder.blocks, *model.encoder.blocks):
    if isinstance(block, vit_blocks.Block):
      dim = block.attn.q.in_features
      for linear in (block.attn.q, block.attn.kv):
        fused.add(id(linear))
        shape = linear.kernel[...].shape
        linear.kernel[...] = _xavier(rngs.params(), shape, dim, 3 * dim)
  for part in (model.encoder, model.decoder):
    for _, module in nnx.iter_modules(part):
      if isinstance(module, nnx.Linear) and id(module) not in fused:
        shape = module.kernel[...].shape
        module.kernel[...] = _xavier(rngs.params(), shape, *shape)
  if model.encoder.attn_type == 'local_global':
    tokens = model.encoder.lg_region_tokens
    tokens[...] = _trunc_normal_1_std(rngs.params(), tokens[...].shape)
