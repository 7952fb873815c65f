"""MAE-DFER's pre-training model: its weights in and its encoder out.

In: `to_flax` maps the authors' pre-training checkpoint (`{model: state
dict}` of `PretrainVisionTransformer`: `encoder.*`, `decoder.*`,
`encoder_to_decoder.weight`, `mask_token`) onto `mae_pretrain.
MaskedAutoencoder`, every key (the decoder's fused `attn.qkv` split into
`q` and `kv`, as `mae_dfer.map_key` does).

Out: `encoder_into` loads the encoder of a pre-training model's state (a
run of ours or a converted checkpoint, as orbax stores them) into a
fine-tuning `VideoTransformer` for `config.init_from`, as the authors'
fine-tuning loads their checkpoint: the encoder's final `norm` is dropped,
`fc_norm` and the heads keep their fresh initialisation.
"""

import numpy as np

from audfer_jax import checkpointing
from audfer_jax.convert import common
from audfer_jax.convert import mae_dfer

# The fine-tuning model's parameters that a pre-trained encoder lacks.
FRESH = ('fc_norm/', 'head/', 'au_head/')
_PARTS = ('encoder', 'decoder')


def to_flax(state_dict, model):
  """Maps the authors' pre-training state dict onto `model`'s paths.

  Returns (flat, reinit) for `common.assign_state`; nothing is
  re-initialised: every parameter comes from the checkpoint.
  """
  del model  # every key maps by name
  flat = common.Mapped()
  for key, w in state_dict.items():
    part, _, rest = key.partition('.')
    prefix = f'{part}/' if part in _PARTS else ''
    name = rest if part in _PARTS else key
    for path, array in mae_dfer.map_key(name, w).items():
      flat.add(prefix + path, array, key)
  return flat, ()


def holds_pretraining(tree) -> bool:
  """Whether a model state (or its checkpoint's tree) is a pre-training
  model's: an encoder, a decoder and a mask token."""
  return all(k in tree for k in (*_PARTS, 'mask_token'))


def encoder_into(model, state, source):
  """Loads the encoder of pre-training `state` into classifier `model`.

  Args:
    model: a `mae_dfer.VideoTransformer` of the encoder's architecture.
    state: the pre-training model's state as restored (nested dicts).
    source: where it comes from, for the messages.

  Raises:
    common.ConversionError: naming the missing, unexpected and mis-shaped
      parameters (another depth, region size or width).
  """
  flat = common.Mapped()
  for path, leaf in checkpointing.flat_leaves(state['encoder']).items():
    if not path.startswith('norm/'):
      flat.add(path, np.asarray(leaf), f'encoder/{path}')
  try:
    common.assign_state(model, flat, reinit=FRESH)
  except common.ConversionError as e:
    raise common.ConversionError(
      f"{source} (a pre-training model's encoder): {e}"
    ) from None
