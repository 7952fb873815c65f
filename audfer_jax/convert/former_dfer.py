"""Former-DFER checkpoints -> `audfer_jax.models.former_dfer.FormerDFER`.

The released files are `{epoch, state_dict, best_acc, optimizer, recorder}`
with DataParallel's `module.` prefix; `common.load_torch_checkpoint` copes
with the pickled `RecorderMeter`.
"""

import re

from audfer_jax.convert import common

# Residual(PreNorm(...)) wrappers of one transformer layer -> our names.
_LAYER_MODULES = {
  '0.fn.norm': 'attn_norm',
  '0.fn.fn.to_qkv': 'attn/to_qkv',
  '0.fn.fn.to_out.0': 'attn/to_out',
  '1.fn.norm': 'ff_norm',
  '1.fn.fn.net.0': 'fc1',
  '1.fn.fn.net.3': 'fc2',
}
# torchvision ResNet BasicBlock sub-modules -> `resnet.BasicBlock`.
_BLOCK_MODULES = {
  'conv1': 'conv1',
  'bn1': 'bn1',
  'conv2': 'conv2',
  'bn2': 'bn2',
  'downsample.0': 'down_conv',
  'downsample.1': 'down_bn',
}
# Position embeddings and the class token carry leading axes of size 1;
# value = the rank of our parameter.
_EMBEDDINGS = {
  's_former.pos_embedding': 2,
  't_former.pos_embedding': 2,
  't_former.cls_token': 1,
}


def _module(module: str) -> str | None:
  if module == 'fc':
    return 'head'
  if module in ('s_former.conv1', 's_former.bn1'):
    return module.replace('.', '/')
  m = re.fullmatch(r's_former\.layer([1-4])\.(\d+)\.(.+)', module)
  if m and m[3] in _BLOCK_MODULES:
    return (
      f's_former/stages/{int(m[1]) - 1}/blocks/{m[2]}/{_BLOCK_MODULES[m[3]]}'
    )
  m = re.fullmatch(
    r'([st]_former)\.spatial_transformer\.layers\.(\d+)\.(.+)', module
  )
  if m and m[3] in _LAYER_MODULES:
    return f'{m[1]}/transformer/layers/{m[2]}/{_LAYER_MODULES[m[3]]}'
  return None


def to_flax(state_dict, model):
  """Maps a Former-DFER state dict; the AU head (and a misfit fc) keep init."""
  del model  # The layout is fixed; assign_state checks the shapes.
  state_dict = common.strip_prefix(state_dict, 'module.')
  flat = common.Mapped()
  for key, ndim in _EMBEDDINGS.items():
    if key in state_dict:
      value = state_dict[key]
      flat.add(key.replace('.', '/'), value.reshape(value.shape[-ndim:]), key)
  rest = common.drop_keys(state_dict, lambda k: k in _EMBEDDINGS)
  flat.merge(common.map_state_dict(rest, _module))
  return flat, ('head/', 'au_head/')
