"""M3DFEL checkpoints -> `audfer_jax.models.m3dfel.M3DFEL`.

Accepts a fine-tuned M3DFEL state dict (`module.` prefix from DataParallel
or none) or a plain torchvision `r3d_18` state dict (e.g. the Kinetics-400
weights), which fills only the `features` trunk; the other parts then keep
their fresh init.
"""

import re

from audfer_jax.convert import common
from audfer_jax.convert import r3d

# Everything outside the R3D trunk, re-initialised for a bare r3d_18 file.
_NON_BACKBONE = ('lstm/', 'to_qkv/', 'norm/', 'pwconv/', 'head/', 'au_head/')


def _features_module(module: str) -> str | None:
  """M3DFEL `features.i...` (Sequential of r3d children) -> Flax path."""
  m = re.fullmatch(r'features\.([0-4])\.(.+)', module)
  if not m:
    return None
  name = 'stem' if m[1] == '0' else f'layer{m[1]}'
  inner = r3d.backbone_module(f'{name}.{m[2]}')
  return None if inner is None else f'features/{inner}'


def _special(key, value):
  """LSTM, DMIN and the 1-D conv: (Flax path, array) or None."""
  m = re.fullmatch(r'lstm\.(weight|bias)_(ih|hh)_l(\d+)(_reverse)?', key)
  if m:
    direction = 'backward' if m[4] else 'forward'
    leaf = 'kernel' if m[1] == 'weight' else 'bias'
    value = common.linear_kernel(value) if leaf == 'kernel' else value
    return f'lstm/{m[3]}/{direction}/{m[2]}/{leaf}', value
  if key in ('norm.weight', 'norm.bias'):  # stored as (1, C, 1) in torch
    return f'norm/{key[5:]}', value.reshape(-1)
  if key in ('norm.mean_weight', 'norm.var_weight'):
    return f'norm/{key[5:]}', value
  if key == 'pwconv.weight':
    return 'pwconv/kernel', common.conv_kernel(value)
  if key == 'pwconv.bias':
    return 'pwconv/bias', value
  return None


def _module(module: str) -> str | None:
  if module == 'fc':
    return 'head'
  if module == 'to_qkv':
    return 'to_qkv'
  return _features_module(module)


def to_flax(state_dict, model):
  """Maps an M3DFEL or torchvision r3d_18 state dict (see module doc)."""
  del model  # The layout is fixed; assign_state checks the shapes.
  state_dict = common.strip_prefix(state_dict, 'module.')
  if 'stem.0.weight' in state_dict:
    print(
      'torchvision r3d_18 weights: loading the M3DFEL `features` trunk only; '
      'its Kinetics fc is dropped.'
    )
    state_dict = common.drop_keys(state_dict, lambda k: k.startswith('fc.'))
    flat = common.map_state_dict(
      state_dict,
      lambda m: (i := r3d.backbone_module(m)) and f'features/{i}',
    )
    return flat, _NON_BACKBONE
  flat, rest = common.Mapped(), {}
  for key, value in state_dict.items():
    special = _special(key, value)
    if special is None:
      rest[key] = value
    else:
      flat.add(*special, key)
  flat.merge(common.map_state_dict(rest, _module))
  return flat, ('head/', 'au_head/')
