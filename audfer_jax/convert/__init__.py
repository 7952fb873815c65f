"""PyTorch checkpoint -> Flax NNX model conversion.

`convert(name, checkpoint)` builds the registry model, reads the .pth file,
maps its keys with the module of this package that the model's registry
entry names (`r3d`, `m3dfel`, `former_dfer`, `mae_dfer`,
`mae_dfer_pretrain`) and assigns them;
`python -m audfer_jax.convert` also saves the result as an Orbax checkpoint
(see `common.save_converted`).

Importing the package is light (no JAX, no torch; nor is the registry): the
CLI checks its arguments with `MODEL_NAMES` before anything heavy starts.
"""

import importlib

from audfer_jax import models

# The models a checkpoint converts to: every registered one names its mapping.
MODEL_NAMES = tuple(models.names())


def convert(
  model_name: str,
  checkpoint_path,
  num_classes: int = 7,
  *,
  seed: int = 0,
  **overrides,
):
  """Returns model `model_name` holding the weights of `checkpoint_path`.

  `num_classes` is ignored for a pre-training model (it has none).
  Parameters the checkpoint cannot provide (the AU head, a head with another
  class count, M3DFEL's aggregation when given bare r3d_18 weights) keep a
  fresh init from `seed`; a message lists them. Any other missing,
  unexpected or mis-shaped key raises `common.ConversionError`.

  Returns:
    The `nnx.Module`.
  """
  # Imported here: the package stays light for the CLI's checks.
  from flax import nnx

  from audfer_jax.convert import common

  mapping = importlib.import_module(
    f'audfer_jax.convert.{models.converter(model_name)}'
  )
  if models.task(model_name) == 'pretrain':
    num_classes = None
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
