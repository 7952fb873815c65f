"""MAE-DFER's tube masks for masked-autoencoder pre-training, seeded.

A mask is bool [B, T' * H' * W'] over the token grid in (t, h, w) order,
True where a token is masked (hidden from the encoder), as the authors'
`bool_masked_pos`. Every frame of a clip hides the same positions (a tube).
The frame is cut into windows of `window` = (h, w) tokens spanning its
width, stacked top to bottom; each window hides int(ratio * h * w) of its
tokens, a subset drawn uniformly at random per clip and window. That is
sunlicai/MAE-DFER `masking_generator.py`: `TubeWindowMaskingGenerator`
('part_window', the VoxCeleb2 script: window 5 x 10, ratio 0.9, without
its facial-symmetry option), and `TubeMaskingGenerator` ('tube') when the
window is the whole frame. The numbers drawn differ from numpy's, the
distribution is the same.
"""

import jax
import jax.numpy as jnp

KINDS = ('tube', 'part_window')


def window_of(kind, grid, window):
  """The (h, w) window of mask `kind` on a (T', H', W') token grid.

  Raises:
    ValueError: an unknown kind, or a window that does not tile the frame
      in rows of its full width (the authors' generator asserts the same).
  """
  if kind not in KINDS:
    raise ValueError(f'mask_type must be one of {KINDS}, got {kind!r}')
  _, height, width = grid
  if kind == 'tube':
    return height, width
  h, w = tuple(window)
  if w != width or height % h:
    raise ValueError(
      f'mask_window {tuple(window)}: a part window must span the width of '
      f'the {height} x {width} token frame and divide its height'
    )
  return h, w


def num_masked(grid, ratio, window):
  """How many of a clip's tokens `tube_masks` hides."""
  frames, height, width = grid
  h, w = window
  per_window = int(ratio * h * w)  # the authors' rounding
  return frames * (height // h) * per_window


def tube_masks(key, batch_size, grid, ratio, window):
  """bool [batch_size, T' * H' * W'] tube masks (the module's docstring).

  Args:
    key: a JAX PRNG key; the same key gives the same masks.
    grid: the (T', H', W') token grid.
    ratio: the fraction of each window's tokens to hide.
    window: (h, w) tokens, `window_of`'s.
  """
  frames, height, width = grid
  h, w = window
  size = h * w
  hidden = int(ratio * size)
  draws = jax.random.uniform(key, (batch_size, height // h, size))
  # The ranks of uniform draws are a uniformly random permutation: hiding
  # the `hidden` highest ranks hides a uniformly random subset of that size.
  ranks = jnp.argsort(jnp.argsort(draws, axis=-1), axis=-1)
  frame = (ranks >= size - hidden).reshape(batch_size, height * width)
  return jnp.tile(frame[:, None], (1, frames, 1)).reshape(batch_size, -1)
