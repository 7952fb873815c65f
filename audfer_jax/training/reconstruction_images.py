"""Pictures of a pre-training model's masked input, reconstruction and target.

The decoder predicts the masked tokens' *targets* (`mae_pretrain.
reconstruction_targets`): patch-normalised pixels and, with frame-difference
targets, the difference of each group's later frames to its first. To show
pixels, the prediction is put in place of the masked tokens' targets and the
targets are inverted: the differences added back to the group's first frame
(itself predicted where masked), then each token's normalisation undone
with the mean and standard deviation of the true patch (which the model
never sees: the convention of VideoMAE's visualisations). A predicted
later frame is therefore the predicted appearance plus the predicted motion:
a frame, not a difference.
"""

import numpy as np


def _tokens_to_frames(tokens, shape, patch, tubelet):
  """[B, N, tubelet * p * p * C] in (t, h, w) token order -> [B, T, H, W, C]."""
  b, t, h, w, c = shape
  grid = (t // tubelet, h // patch, w // patch)
  x = tokens.reshape(b, *grid, tubelet, patch, patch, c)
  return x.transpose(0, 1, 4, 2, 5, 3, 6, 7).reshape(shape)


def _frames_to_tokens(frames, patch, tubelet):
  """The inverse of `_tokens_to_frames`, keeping the channel axis:
  [B, N, tubelet * p * p, C]."""
  b, t, h, w, c = frames.shape
  x = frames.reshape(
    b, t // tubelet, tubelet, h // patch, patch, w // patch, patch, c
  )
  x = x.transpose(0, 1, 3, 5, 2, 4, 6, 7)
  return x.reshape(b, -1, tubelet * patch * patch, c)


def invert_targets(targets, pixels, model):
  """Pixels [B, T, H, W, 3] in [0, 1] of reconstruction targets.

  Args:
    targets: [B, N, tubelet * p * p * 3], `model.targets`'s layout (some of
      them predicted).
    pixels: the true clips [B, T, H, W, 3] in [0, 1], whose patches give
      the normalisation to undo.
    model: the pre-training model (its patch, tubelet and target options).
  """
  p, q = model.patch_size, model.tubelet_size
  frames = _tokens_to_frames(
    np.asarray(targets, np.float64), pixels.shape, p, q
  )
  group = model.frame_diff_group
  if group:
    first = np.repeat(frames[:, ::group], group, axis=1)
    later = (np.arange(frames.shape[1]) % group != 0)[:, None, None, None]
    frames = np.where(later, frames + first, frames)
  if model.normalize_target:
    x = _frames_to_tokens(frames, p, q)
    true = _frames_to_tokens(np.asarray(pixels, np.float64), p, q)
    mean = true.mean(axis=2, keepdims=True)
    std = true.std(axis=2, ddof=1, keepdims=True)
    x = x * (std + 1e-6) + mean
    b, n = x.shape[:2]
    frames = _tokens_to_frames(x.reshape(b, n, -1), pixels.shape, p, q)
  return frames


def reconstruction_images(video, mask, pred, model, num_frames=8):
  """uint8 [B, 3 H, F W, 3]: for each clip, its first F frames as masked
  input (hidden patches grey), reconstruction (visible patches as given,
  hidden ones predicted) and target (the clip).

  Args:
    video: the model's input [B, T, H, W, 3] (normalised as the model
      expects, `model.pixel_mean` / `pixel_std`).
    mask: bool [B, N], True where hidden.
    pred: the decoder's output [B, N_masked, tubelet * p * p * 3], the
      masked tokens in token order.
    model: the pre-training model.
  """
  video = np.asarray(video, np.float64)
  mask = np.asarray(mask)
  pixels = video * np.asarray(model.pixel_std) + np.asarray(model.pixel_mean)
  targets = np.array(model.targets(video.astype(np.float32)), np.float64)
  targets[mask] = np.asarray(pred, np.float64).reshape(-1, targets.shape[-1])
  rebuilt = invert_targets(targets, pixels, model)
  # The mask token by token -> pixel by pixel.
  p, q = model.patch_size, model.tubelet_size
  depth = q * p * p * 3
  hidden = np.repeat(mask[..., None], depth, axis=-1).astype(np.float64)
  hidden = _tokens_to_frames(hidden, pixels.shape, p, q) > 0.5
  masked = np.where(hidden, 0.5, pixels)
  rows = [masked, np.where(hidden, rebuilt, pixels), pixels]
  f = min(num_frames, pixels.shape[1])
  b, _, h, w, c = pixels.shape
  # [row, B, F, H, W, C] -> [B, row * H, F * W, C]
  grid = np.stack([r[:, :f] for r in rows])
  grid = grid.transpose(1, 0, 3, 2, 4, 5).reshape(b, 3 * h, f * w, c)
  return np.round(255 * np.clip(grid, 0.0, 1.0)).astype(np.uint8)
