"""torchvision `r3d_18` state dict -> `audfer_jax.models.r3d.R3D`.

Works for the Kinetics-400 file (`num_batches_tracked` present or not):
the 400-class `fc` does not fit our head, so the head is re-initialised.
`backbone_module` is shared with the M3DFEL mapping, whose `features` trunk
is the same network.
"""

import re

from audfer_jax.convert import common

# torchvision BasicBlock sub-modules -> our `resnet.BasicBlock` attributes.
BLOCK_MODULES = {
  'conv1.0': 'conv1',
  'conv1.1': 'bn1',
  'conv2.0': 'conv2',
  'conv2.1': 'bn2',
  'downsample.0': 'down_conv',
  'downsample.1': 'down_bn',
}


def backbone_module(module: str) -> str | None:
  """torchvision r3d module path (stem/layerK) -> path in `R3DBackbone`."""
  if module in ('stem.0', 'stem.1'):
    return 'stem_conv' if module == 'stem.0' else 'stem_bn'
  m = re.fullmatch(r'layer([1-4])\.(\d+)\.(.+)', module)
  if m and m[3] in BLOCK_MODULES:
    return f'stages/{int(m[1]) - 1}/blocks/{m[2]}/{BLOCK_MODULES[m[3]]}'
  return None


def _module(module: str) -> str | None:
  if module == 'fc':
    return 'head'
  inner = backbone_module(module)
  return None if inner is None else f'backbone/{inner}'


def to_flax(state_dict, model):
  """Maps an r3d_18 state dict; the AU head (and a misfit fc) keep init."""
  del model  # The layout is fixed; assign_state checks the shapes.
  state_dict = common.strip_prefix(state_dict, 'module.')
  return common.map_state_dict(state_dict, _module), ('head/', 'au_head/')
