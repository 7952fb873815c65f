"""torchvision's Kinetics-400 r3d_18 weights: M3DFEL's starting point.

Upstream M3DFEL builds its trunk as `torchvision.models.video.r3d_18(
weights=R3D_18_Weights.DEFAULT)` (`models/M3DFEL.py` of Tencent/TFace
`attribute/M3DFEL` and of Cross-Innovation-Lab/AU-DFER `M3DFEL_AU`): the
Kinetics-400 weights torchvision downloads from `URL`.

`python -m audfer_jax.convert kinetics400` gets that file once through
torch.hub's cache (`$TORCH_HOME/hub/checkpoints/r3d_18-b3b3357e.pth`, where
torchvision keeps it too, so a copy torchvision already downloaded is
reused), or reads the file given with `--from`, and saves the R3D-18 trunk
(stem and four stages, BatchNorm statistics included; the 400-class `fc` is
dropped) as an Orbax checkpoint under `cache_path()`.
`config.init_from='kinetics400'`, the M3DFEL configs' default, loads it into
the model's R3D-18 trunk (`M3DFEL.features`, `R3D.backbone`); every other
layer (BiLSTM, attention, DMIN, 1-D conv, heads) keeps its fresh init from
`config.seed`, as upstream where only the trunk is pre-trained.

Importing this module is light (no JAX, no torch): the command-line checks
call `missing_message` before anything heavy starts.
"""

import hashlib
import json
import os
import shutil
import tempfile

# The `config.init_from` value that names these weights.
NAME = 'kinetics400'
# `config.init_from` values that mean no initial weights (fresh init).
FRESH = ('', 'none')
# torchvision's file (`R3D_18_Weights.KINETICS400_V1`, the DEFAULT).
FILE_NAME = 'r3d_18-b3b3357e.pth'
URL = f'https://download.pytorch.org/models/{FILE_NAME}'
# torch.hub's check: a file's sha256 starts with the hash in its name.
SHA256_PREFIX = 'b3b3357e'
# Where the converted weights go: $AUDFER_WEIGHTS_DIR, or this default.
ENV = 'AUDFER_WEIGHTS_DIR'
DEFAULT_DIR = os.path.join('~', '.cache', 'audfer_jax', 'weights')
COMMAND = f'python -m audfer_jax.convert {NAME}'
_TRUNK = 'trunk'  # the Orbax checkpoint inside cache_path()
_SOURCE = 'source.json'  # which file it was converted from


def weights_dir():
  """$AUDFER_WEIGHTS_DIR, else ~/.cache/audfer_jax/weights."""
  return os.path.expanduser(os.environ.get(ENV) or DEFAULT_DIR)


def cache_path():
  """The directory that holds the converted Kinetics-400 trunk."""
  return os.path.join(weights_dir(), 'r3d_18_kinetics400')


def is_cached():
  return os.path.isfile(
    os.path.join(cache_path(), _TRUNK, '_CHECKPOINT_METADATA')
  )


def missing_message(init_from):
  """One line when `init_from` names these weights and they are not
  converted yet (saying how to get them), else None."""
  if init_from != NAME or is_cached():
    return None
  return (
    f"config.init_from='{NAME}': torchvision's Kinetics-400 r3d_18 weights "
    f'are not in {cache_path()}; get and convert them once with `{COMMAND}` '
    f'(offline: download {URL} and add --from {FILE_NAME}), or train from '
    'scratch with --config.init_from=none'
  )


def hub_file():
  """Where torch.hub (and torchvision) keep the downloaded file."""
  import torch.hub  # Lazy: only the conversion needs torch.

  return os.path.join(torch.hub.get_dir(), 'checkpoints', FILE_NAME)


def download():
  """torchvision's file in torch.hub's cache, downloaded if not there yet
  (torch.hub checks its sha256 prefix); returns its path."""
  import torch.hub

  path = hub_file()
  if not os.path.isfile(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    print(f'Downloading {URL} to {path}')
    torch.hub.download_url_to_file(URL, path, hash_prefix=SHA256_PREFIX)
  return path


def _sha256(path):
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
      digest.update(block)
  return digest.hexdigest()


def convert_to_cache(source):
  """Converts a torchvision r3d_18 state dict file into `cache_path()`.

  The file's `fc` is dropped; every other key must fill the R3D-18 trunk
  exactly (else `common.ConversionError` lists the keys). The cache is
  replaced whole, never left half written.

  Returns:
    The cache path.
  """
  from flax import nnx

  from audfer_jax.convert import common
  from audfer_jax.convert import r3d
  from audfer_jax.models.r3d import R3DBackbone

  sha256 = _sha256(source)
  if not sha256.startswith(SHA256_PREFIX):
    print(
      f"Note: {source} is not torchvision's {FILE_NAME} (its sha256 "
      f'{sha256[:16]}... does not start with {SHA256_PREFIX}); converting it '
      'anyway.'
    )
  state = common.strip_prefix(common.load_torch_checkpoint(source), 'module.')
  if 'stem.0.weight' not in state:
    raise common.ConversionError(
      f'{source}: not a torchvision r3d_18 state dict (no stem.0.weight)'
    )
  state = common.drop_keys(state, lambda k: k.startswith('fc.'))
  trunk = R3DBackbone(rngs=nnx.Rngs(0))
  try:
    common.assign_state(
      trunk, common.map_state_dict(state, r3d.backbone_module)
    )
  except common.ConversionError as e:
    raise common.ConversionError(f'{source}: {e}') from None
  os.makedirs(weights_dir(), exist_ok=True)
  staging = tempfile.mkdtemp(prefix='.r3d_18_kinetics400.', dir=weights_dir())
  try:
    common.save_converted(trunk, os.path.join(staging, _TRUNK))
    with open(os.path.join(staging, _SOURCE), 'w') as f:
      json.dump({'file': os.path.abspath(source), 'sha256': sha256}, f)
    final = cache_path()
    if os.path.exists(final):
      shutil.rmtree(final)
    os.rename(staging, final)
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return final


def _trunk(model):
  """(attribute name, R3D-18 trunk) of `model`, or None."""
  from audfer_jax.models.r3d import R3DBackbone

  for name, value in vars(model).items():
    if isinstance(value, R3DBackbone):
      return name, value
  return None


def load_into(model):
  """Loads the converted weights into `model`'s R3D-18 trunk, in place.

  Returns:
    What was loaded, for the log.

  Raises:
    ValueError: the weights are not converted yet, the model has no R3D-18
      trunk, or its trunk has other shapes (a `_tiny` model).
  """
  from audfer_jax.convert import common

  problem = missing_message(NAME)
  if problem:
    raise ValueError(problem)
  found = _trunk(model)
  if found is None:
    raise ValueError(
      f"config.init_from='{NAME}': {type(model).__name__} has no R3D-18 "
      'trunk (m3dfel and r3d_18 have one); use --config.init_from=none'
    )
  name, trunk = found
  path = os.path.join(cache_path(), _TRUNK)
  try:
    common.load_converted(trunk, path)
  except common.ConversionError as e:
    raise ValueError(
      f"config.init_from='{NAME}' fits the full-size R3D-18 trunk of m3dfel "
      f'and r3d_18, not this one (a _tiny model?): {e}'
    ) from None
  return (
    f"torchvision's Kinetics-400 r3d_18 weights ({path}) in "
    f'{type(model).__name__}.{name}; the other layers fresh'
  )
