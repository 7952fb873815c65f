"""PyTorch checkpoint -> Flax NNX model conversion.

`convert(name, checkpoint)` builds the registry model, reads the .pth file,
maps its keys with the per-model module (`r3d`, `m3dfel`, `former_dfer`,
`mae_dfer`) and assigns them; `python -m audfer_jax.convert` also saves the
result as an Orbax checkpoint (see `common.save_converted`).

Importing the package is light (no JAX, no torch): the CLI checks its
arguments with `MODEL_NAMES` before anything heavy starts.
"""

import importlib

# Registry name (without `_tiny`) -> mapping module in this package.
_MAPPINGS = {
  'r3d_18': 'r3d',
  'm3dfel': 'm3dfel',
  'former_dfer': 'former_dfer',
  'mae_dfer': 'mae_dfer',
  'videomae_vit_b': 'mae_dfer',
}
# The models a checkpoint converts to: each base and its `_tiny` variant.
MODEL_NAMES = tuple(sorted([*_MAPPINGS, *(f'{n}_tiny' for n in _MAPPINGS)]))


def convert(
  model_name: str,
  checkpoint_path,
  num_classes: int = 7,
  *,
  seed: int = 0,
  **overrides,
):
  """Returns model `model_name` holding the weights of `checkpoint_path`.

  Parameters the checkpoint cannot provide (the AU head, a head with another
  class count, M3DFEL's aggregation when given bare r3d_18 weights) keep a
  fresh init from `seed`; a message lists them. Any other missing,
  unexpected or mis-shaped key raises `common.ConversionError`.

  Returns:
    The `nnx.Module`.
  """
  # Imported here: the package stays light for the CLI's checks.
  from flax import nnx

  from audfer_jax import models
  from audfer_jax.convert import common

  base = model_name.removesuffix('_tiny')
  if base not in _MAPPINGS:
    raise ValueError(
      f'no checkpoint conversion for model {model_name!r}; supported: '
      f'{", ".join(sorted(_MAPPINGS))} (and their _tiny variants)'
    )
  mapping = importlib.import_module(f'audfer_jax.convert.{_MAPPINGS[base]}')
  model = models.create(
    model_name, num_classes, rngs=nnx.Rngs(seed), **overrides
  )
  state_dict = common.load_torch_checkpoint(checkpoint_path)
  flat, reinit = mapping.to_flax(state_dict, model)
  try:
    common.assign_state(model, flat, reinit=reinit)
  except common.ConversionError as e:
    raise common.ConversionError(f'{checkpoint_path}: {e}') from None
  return model
