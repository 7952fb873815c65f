"""Shared tools for converting PyTorch checkpoints into Flax NNX models.

A per-model mapping module turns a torch state dict (numpy arrays keyed by
torch names) into a flat dict keyed by Flax paths ('layer1/0/conv1/kernel',
'bn1/mean'); `assign_state` then checks that dict against the model and
writes it in. `save_converted` / `load_converted` store the result as an
Orbax checkpoint for the trainer's `init_from`.

torch is imported lazily, so the models never need it.
"""

from collections.abc import Callable
import os
import pickle
import types

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from audfer_jax import checkpointing

# Training checkpoints wrap the weights under one of these keys.
_WRAPPER_KEYS = ('state_dict', 'model', 'module')


class ConversionError(ValueError):
  """A checkpoint does not fit the model (or could not be read)."""


class _Stub:
  """Stand-in for a class pickled by a training script we do not have."""

  def __init__(self, *args, **kwargs):
    del args, kwargs

  def __setstate__(self, state):
    self.__dict__['_state'] = state


class _StubbingUnpickler(pickle.Unpickler):
  """Unpickler that replaces classes it cannot import by `_Stub`.

  Former-DFER's checkpoints pickle a `RecorderMeter` defined in the
  `__main__` of its training script; this lets them load without it.
  """

  def find_class(self, module, name):
    try:
      return super().find_class(module, name)
    except (AttributeError, ImportError):
      return type(name, (_Stub,), {'__module__': module})


# torch.load takes a "pickle module": only `Unpickler` and `load` are used.
_STUBBING_PICKLE = types.SimpleNamespace(
  Unpickler=_StubbingUnpickler,
  load=lambda f, **kw: _StubbingUnpickler(f, **kw).load(),
  __name__='audfer_jax.convert.common.stubbing_pickle',
)


def _unwrap(obj, path):
  """Finds the state dict inside a training checkpoint."""
  while isinstance(obj, dict):
    if obj and all(not isinstance(v, dict) for v in obj.values()):
      return obj
    inner = [k for k in _WRAPPER_KEYS if isinstance(obj.get(k), dict)]
    if not inner:
      break
    obj = obj[inner[0]]
  raise ConversionError(
    f'{path}: no state dict found (expected a dict of tensors, possibly '
    f'under one of {_WRAPPER_KEYS}); top-level keys: '
    f'{sorted(obj) if isinstance(obj, dict) else type(obj).__name__}'
  )


def load_torch_checkpoint(path) -> dict[str, np.ndarray]:
  """Reads a .pth file into {torch key: numpy array}.

  Tries `torch.load(weights_only=True)` first; files that pickle other
  objects (argparse Namespace, Former-DFER's RecorderMeter) are then loaded
  with weights_only=False and unknown classes replaced by stubs. Only load
  checkpoints you trust. Floating tensors become float32 arrays, integer
  tensors (e.g. BatchNorm's num_batches_tracked) keep their dtype.
  """
  import torch  # Lazy: only conversion needs torch.

  path = os.fspath(path)
  if not os.path.isfile(path):
    raise ConversionError(f'{path}: checkpoint file not found')
  try:
    obj = torch.load(path, map_location='cpu', weights_only=True)
  except pickle.UnpicklingError:
    try:
      obj = torch.load(
        path,
        map_location='cpu',
        weights_only=False,
        pickle_module=_STUBBING_PICKLE,
      )
    except Exception as e:
      raise ConversionError(f'{path}: cannot load checkpoint: {e}') from e
  except Exception as e:
    raise ConversionError(f'{path}: cannot load checkpoint: {e}') from e
  state = _unwrap(obj, path)
  out = {}
  for key, value in state.items():
    if not isinstance(value, torch.Tensor):
      raise ConversionError(
        f'{path}: entry {key!r} is a {type(value).__name__}, not a tensor'
      )
    value = value.detach()
    if value.is_floating_point():
      value = value.float()
    out[key] = value.numpy()
  return out


def strip_prefix(state_dict: dict, prefix: str) -> dict:
  """Removes `prefix` (e.g. 'module.') from the keys that start with it."""
  return {
    (k[len(prefix) :] if k.startswith(prefix) else k): v
    for k, v in state_dict.items()
  }


def drop_keys(state_dict: dict, predicate: Callable[[str], bool]) -> dict:
  """Removes the entries whose key satisfies `predicate`."""
  return {k: v for k, v in state_dict.items() if not predicate(k)}


def linear_kernel(w: np.ndarray) -> np.ndarray:
  """torch Linear weight (out, in) -> Flax kernel (in, out)."""
  return np.ascontiguousarray(w.T)


def conv_kernel(w: np.ndarray) -> np.ndarray:
  """torch conv weight (O, I, *k) -> Flax kernel (*k, I, O), 1d/2d/3d."""
  spatial = tuple(range(2, w.ndim))
  return np.ascontiguousarray(w.transpose(*spatial, 1, 0))


def torch_leaf(name: str, value: np.ndarray):
  """Converts one standard torch parameter to (Flax leaf name, array).

  `weight` becomes a conv kernel (ndim >= 3), a Linear kernel (ndim 2) or a
  norm layer's `scale` (ndim 1); `running_mean`/`running_var` become the
  BatchNorm stats `mean`/`var`. Returns None for `num_batches_tracked`.
  """
  if name == 'num_batches_tracked':
    return None
  if name != 'weight':
    return {'running_mean': 'mean', 'running_var': 'var'}.get(name, name), value
  if value.ndim >= 3:
    return 'kernel', conv_kernel(value)
  if value.ndim == 2:
    return 'kernel', linear_kernel(value)
  return 'scale', value


class Mapped(dict):
  """{Flax path: array} that remembers the PyTorch key of each entry, so
  that messages can name what a user finds in their file."""

  def __init__(self):
    super().__init__()
    self.torch_keys = {}

  def add(self, path: str, array: np.ndarray, torch_key: str) -> None:
    self[path] = array
    self.torch_keys[path] = torch_key

  def merge(self, other: 'Mapped') -> 'Mapped':
    for path, array in other.items():
      self.add(path, array, other.torch_keys[path])
    return self

  def torch_key(self, path: str) -> str:
    return self.torch_keys.get(path, path)

  def describe(self, path: str) -> str:
    """'torch key (-> Flax path)', or the path where they are the same."""
    key = self.torch_key(path)
    return path if key == path else f'{key} (-> {path})'


# Flax leaf -> the PyTorch leaf it comes from (`torch_leaf`'s inverse).
_TORCH_LEAVES = {
  'kernel': 'weight',
  'scale': 'weight',
  'bias': 'bias',
  'mean': 'running_mean',
  'var': 'running_var',
}


def map_state_dict(
  state_dict: dict[str, np.ndarray], rename: Callable[[str], str | None]
) -> Mapped:
  """Maps standard torch layers to Flax paths via `torch_leaf`.

  `rename(torch module path)` gives the Flax module path ('layer1.0.conv1.0'
  -> 'stages/0/blocks/0/conv1'). Keys of modules it does not know (None) are
  kept under their torch name, so `assign_state` reports them as unexpected.
  """
  flat = Mapped()
  for key, value in state_dict.items():
    module, _, leaf = key.rpartition('.')
    target = rename(module)
    if target is None:
      flat.add(key, value, key)
      continue
    converted = torch_leaf(leaf, value)
    if converted is not None:
      flat.add(f'{target}/{converted[0]}', converted[1], key)
  return flat


def _path_str(path) -> str:
  return '/'.join(str(p) for p in path)


def _model_state(model):
  return nnx.state(model, nnx.Any(nnx.Param, nnx.BatchStat))


def _missing_name(path: str, flat: Mapped) -> str:
  """A missing Flax path, with its PyTorch key when a sibling shows it."""
  module, _, leaf = path.rpartition('/')
  for other in flat:
    torch_module, _, torch_leaf_name = flat.torch_key(other).rpartition('.')
    if (
      other.rpartition('/')[0] == module
      and torch_leaf_name in _TORCH_LEAVES.values()
      and leaf in _TORCH_LEAVES
    ):
      return f'{torch_module}.{_TORCH_LEAVES[leaf]} (-> {path})'
  return path


def _group_status(keys, targets, flat):
  """('taken' | 'reinit' | 'partial', why) for one group of parameters.

  A group (a head, say) is taken whole from the checkpoint when all of it
  is there in the model's shapes, re-initialised whole when none of it is
  there or a part does not fit (another class count), and an error when
  only a part is there.
  """
  present = [k for k in keys if k in flat]
  if not present:
    return 'reinit', 'not in the checkpoint'
  if len(present) < len(keys):
    return 'partial', None
  # Name the weight matrix rather than the bias when both misfit.
  for key in sorted(keys, key=lambda k: -len(targets[k].shape)):
    if tuple(flat[key].shape) != tuple(targets[key].shape):
      return 'reinit', (
        f"the checkpoint's {flat.torch_key(key)} gives {key} the shape "
        f'{tuple(flat[key].shape)}, the model has {tuple(targets[key].shape)}'
      )
  return 'taken', ', '.join(flat.torch_key(k) for k in keys)


def assign_state(
  model: nnx.Module,
  flat: Mapped,
  *,
  reinit: tuple[str, ...] = (),
) -> None:
  """Writes `flat` ({Flax path: array}) into the model's Param/BatchStat.

  Every model variable must get an array of its exact shape and every entry
  of `flat` must name a model variable; otherwise `ConversionError` lists all
  missing, unexpected and mis-shaped keys (under their PyTorch names). The
  parameters under each prefix in `reinit` (the heads) are taken whole when
  the checkpoint has all of them in the model's shapes, and keep their
  fresh init whole when it has none of them or they do not fit (a message
  says which and why); a partial group is an error.
  """
  flat_state = nnx.to_flat_state(_model_state(model))
  targets = {_path_str(p): v for p, v in flat_state}
  missing, mis_shaped, kept, messages = [], [], set(), []
  grouped = set()
  for prefix in reinit:
    keys = [k for k in targets if k.startswith(prefix)]
    grouped.update(keys)
    status, why = _group_status(keys, targets, flat)
    if status == 'partial':
      missing.extend(_missing_name(k, flat) for k in keys if k not in flat)
    elif status == 'taken':
      messages.append(f'Taken from the checkpoint: {prefix} ({why})')
    else:
      kept.update(keys)
      messages.append(f'Re-initialised {prefix} ({why}): {", ".join(keys)}')
  for key, var in targets.items():
    if key in grouped:
      continue
    if key not in flat:
      missing.append(_missing_name(key, flat))
    elif tuple(flat[key].shape) != tuple(var.shape):
      mis_shaped.append(
        f'{key}: checkpoint {tuple(flat[key].shape)}, model '
        f'{tuple(var.shape)} (its {flat.torch_key(key)})'
      )
  unexpected = [flat.describe(k) for k in flat if k not in targets]
  if missing or unexpected or mis_shaped:
    lines = []
    for title, keys in (
      ('missing', missing),
      ('unexpected', unexpected),
      ('mis-shaped', mis_shaped),
    ):
      if keys:
        lines.append(f'{len(keys)} {title}:\n  ' + '\n  '.join(keys))
    raise ConversionError(
      f'checkpoint does not fit {type(model).__name__}:\n' + '\n'.join(lines)
    )
  for key, var in targets.items():
    if key not in kept:
      var[...] = jnp.asarray(flat[key], dtype=var.dtype)
  nnx.update(model, nnx.from_flat_state(flat_state))
  for message in messages:
    print(message)


def save_converted(model: nnx.Module, out_dir) -> str:
  """Saves the model's Param and BatchStat state (a pure dict) with Orbax.

  The directory holds one `ocp.StandardCheckpointer` checkpoint; restore it
  with `load_converted`. Returns the absolute path.
  """
  out_dir = os.path.abspath(os.fspath(out_dir))
  checkpointer = ocp.StandardCheckpointer()
  checkpointer.save(out_dir, nnx.to_pure_dict(_model_state(model)), force=True)
  checkpointer.wait_until_finished()
  return out_dir


def _flat_shapes(tree) -> dict[str, tuple]:
  return {
    '/'.join(str(getattr(k, 'key', k)) for k in path): tuple(leaf.shape)
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]
  }


def load_converted(model: nnx.Module, path) -> None:
  """Restores a `save_converted` checkpoint into `model` (same architecture
  and num_classes), in place; a pre-training model's into a classifier
  gives it its encoder (`mae_dfer_pretrain.encoder_into`).

  Raises:
    ConversionError: naming the missing, unexpected and mis-shaped keys when
      the checkpoint does not fit the model.
  """
  path = os.path.abspath(os.fspath(path))
  state = _model_state(model)
  target = jax.tree.map(
    lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), nnx.to_pure_dict(state)
  )
  # Imported here: it imports this module.
  from audfer_jax.convert import mae_dfer_pretrain as pretrain

  checkpointer = ocp.StandardCheckpointer()
  stored = checkpointer.metadata(path).item_metadata.tree
  if pretrain.holds_pretraining(stored) and not pretrain.holds_pretraining(
    target
  ):
    restored = checkpointer.restore(path, checkpointing.on_one_device(stored))
    pretrain.encoder_into(model, restored, path)
    return
  want = _flat_shapes(target)
  have = _flat_shapes(stored)
  problems = [
    f'{len(keys)} {title}: {", ".join(keys[:5])}'
    for title, keys in (
      ('missing', sorted(want.keys() - have.keys())),
      ('unexpected', sorted(have.keys() - want.keys())),
      (
        'mis-shaped',
        sorted(
          f'{k} (checkpoint {have[k]}, model {want[k]})'
          for k in want.keys() & have.keys()
          if want[k] != have[k]
        ),
      ),
    )
    if keys
  ]
  if problems:
    raise ConversionError(
      f'{path} does not fit {type(model).__name__}: ' + '; '.join(problems)
    )
  restored = checkpointer.restore(path, target)
  nnx.replace_by_pure_dict(state, restored)
  nnx.update(model, state)
