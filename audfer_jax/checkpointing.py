"""Orbax checkpoints: periodic, best-by-metric, and on preemption.

A checkpoint holds the model's parameters and batch statistics, the optimizer
state and a JSON record (step, best result so far). That is everything a run
needs to continue exactly: the data position and the dropout keys are
functions of the step (see `input_pipeline` and `train`).
"""

import logging
import os
import signal

from flax import nnx
import jax
import orbax.checkpoint as ocp

from audfer_jax import workdir as workdir_lib


def model_state(model):
  """The checkpointed part of a model: all variables but its RNG streams."""
  return nnx.state(model, nnx.Not(nnx.RngState))


def _abstract(tree):
  return jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)


def on_one_device(tree):
  """Abstract arrays of a checkpoint's tree (orbax metadata), to restore
  onto this process's first device whatever devices wrote them."""
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  return jax.tree.map(
    lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), tree
  )


def _key(entry):
  for attr in ('key', 'idx', 'name'):
    if hasattr(entry, attr):
      return str(getattr(entry, attr))
  return str(entry)


def flat_leaves(tree) -> dict:
  """{'blocks/0/q/kernel': leaf} of a nested model state: a pure dict, or
  a checkpoint's tree, without NNX's `.value` attribute hop."""
  return {
    '/'.join(_key(k) for k in path if _key(k) != 'value'): leaf
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]
  }


def _shapes(tree):
  return {k: tuple(leaf.shape) for k, leaf in flat_leaves(tree).items()}


def _check_fits(name, target, stored):
  """Raises ValueError naming the keys and shapes that differ."""
  want, have = _shapes(target), _shapes(stored)
  missing = sorted(want.keys() - have.keys())
  extra = sorted(have.keys() - want.keys())
  shapes = sorted(
    f'{k}: checkpoint {have[k]}, model {want[k]}'
    for k in want.keys() & have.keys()
    if want[k] != have[k]
  )
  if missing or extra or shapes:
    raise ValueError(
      f'Checkpoint {name} does not match this model: missing in the '
      f'checkpoint {missing[:10]}, unexpected {extra[:10]}, mis-shaped '
      f'{shapes[:10]} ({len(missing)}, {len(extra)} and {len(shapes)} keys).'
    )


class Checkpointer:
  """An orbax `CheckpointManager` for {model, optimizer} + JSON metadata."""

  def __init__(self, directory, max_to_keep, save_interval_steps=1):
    self.directory = directory
    self._manager = ocp.CheckpointManager(
      directory,
      options=ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep,
        save_interval_steps=save_interval_steps,
        create=True,
        # orbax names the barriers of an asynchronous save after the step
        # alone (`async_write_complete.<step>`): two managers saving one
        # step (best/ and checkpoints/ at a run's last evaluation) would
        # wait at one barrier from two threads, which JAX's coordination
        # service refuses ('already ongoing') on any process whose other
        # save is still in flight. The directory's name keeps them apart.
        multiprocessing_options=ocp.options.MultiprocessingOptions(
          barrier_sync_key_prefix=os.path.basename(directory.rstrip('/'))
        ),
      ),
      # Named handlers let `item_metadata` read a checkpoint's tree before
      # restoring it (to report mismatching keys).
      item_handlers={
        'state': ocp.StandardCheckpointHandler(),
        'meta': ocp.JsonCheckpointHandler(),
      },
    )

  def latest_step(self):
    return self._manager.latest_step()

  def discard_after(self, step):
    """Deletes the checkpoints of steps after `step`; returns them.

    A run killed after saving its best model but before its next periodic
    checkpoint resumes from an earlier step and reaches that step again.
    """
    later = [s for s in self._manager.all_steps() if s > step]
    for s in later:
      self._manager.delete(s)
    return later

  def save(self, step, state, meta, force=False):
    """Saves `state` (a pytree of arrays) at `step` when due or forced."""
    return self._manager.save(
      step,
      args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)
      ),
      force=force,
    )

  def restore(self, step, target):
    """Restores into the structure (and shardings) of `target`.

    Raises:
      ValueError: naming the keys that differ when the checkpoint does not
        match `target` (e.g. another model or config).
    """
    stored = self._manager.item_metadata(step)['state']
    _check_fits(f'{self.directory}/{step}', target, stored)
    restored = self._manager.restore(
      step,
      args=ocp.args.Composite(
        state=ocp.args.StandardRestore(_abstract(target)),
        meta=ocp.args.JsonRestore(),
      ),
    )
    return restored['state'], restored['meta']

  def stored_model(self, step):
    """The tree of a checkpoint's model as stored (orbax metadata)."""
    return self._manager.item_metadata(step)['state']['model']

  def restore_model(self, step, target=None):
    """Restores only the model of a checkpoint, for evaluation.

    Args:
      step: the checkpoint's step.
      target: `model_state(model)` of the model to load into; None: the
        model as stored, onto one device.

    Returns:
      (the model state, the checkpoint's JSON record).

    Raises:
      ValueError: naming the keys and shapes that differ from `target`.
    """
    stored = self._manager.item_metadata(step)['state']
    if target is None:
      target = on_one_device(stored['model'])
    _check_fits(f'{self.directory}/{step}', target, stored['model'])
    # The optimizer state is read onto one device and dropped: the run may
    # have had other devices (other hosts) than this process.
    restored = self._manager.restore(
      step,
      args=ocp.args.Composite(
        state=ocp.args.StandardRestore(
          {
            'model': _abstract(target),
            'optimizer': on_one_device(stored['optimizer']),
          }
        ),
        meta=ocp.args.JsonRestore(),
      ),
    )
    return restored['state']['model'], restored['meta']

  def reached_preemption(self, step):
    """True at the step where every process stops after a SIGTERM to any.

    JAX's preemption service sets that step to one after the furthest step
    any process had reached when the signal came; every process must ask at
    every step.
    """
    return jax.process_count() > 1 and self._manager.reached_preemption(step)

  def wait_until_finished(self):
    """Blocks until the saves in flight are complete on disk."""
    self._manager.wait_until_finished()

  def close(self):
    self.wait_until_finished()
    self._manager.close()


def load_weights(model, path, select='final'):
  """Loads the weights of a checkpoint into `model`, in place.

  Args:
    path: a training workdir (its latest checkpoint, or its best with
      `select='best'`), its `checkpoints/` or `best/` (the latest there),
      one of their steps (`<workdir>/best/<step>`), or a checkpoint written
      by `python -m audfer_jax.convert`. A pre-training model's checkpoint
      gives a classifier its encoder (`convert/mae_dfer_pretrain.py`).
    select: 'final' or 'best', for a workdir.

  Returns:
    What was loaded, e.g. '<workdir>/best/93'.

  Raises:
    ValueError: `path` is none of these, or does not fit the model (naming
      the keys).
  """
  path = os.path.abspath(os.path.expanduser(path)).rstrip('/')
  kind, step = workdir_lib.checkpoint_kind(path), None
  if kind is None:
    raise ValueError(
      f'{path}: neither a training workdir (checkpoints/ or best/), one of '
      'its checkpoints, nor a checkpoint from python -m audfer_jax.convert'
    )
  # Imported here: the converters import this module.
  from audfer_jax.convert import common as convert_common
  from audfer_jax.convert import mae_dfer_pretrain as pretrain

  if kind == 'converted':
    convert_common.load_converted(model, path)
    return f'converted checkpoint {path}'
  if kind == 'step':
    directory, step = os.path.dirname(path), int(os.path.basename(path))
  elif kind == 'directory':
    directory = path
  else:
    directory = (
      workdir_lib.best_dir(path)
      if select == 'best'
      else workdir_lib.checkpoints_dir(path)
    )
  if not os.path.isdir(directory):
    raise ValueError(f'{path}: it has no {directory}')
  ckpt = Checkpointer(directory, None)
  try:
    step = ckpt.latest_step() if step is None else step
    if step is None:
      raise ValueError(f'{directory}: no checkpoint in it')
    if pretrain.holds_pretraining(
      ckpt.stored_model(step)
    ) and not pretrain.holds_pretraining(model_state(model)):
      state, _ = ckpt.restore_model(step)
      pretrain.encoder_into(model, state, f'{directory}/{step}')
      return f'the encoder of {directory}/{step}'
    state, _ = ckpt.restore_model(step, model_state(model))
  finally:
    ckpt.close()
  nnx.update(model, state)
  return f'{directory}/{step}'


class StopSignal:
  """Sets a flag on SIGTERM/SIGINT so the loop can save and exit cleanly.

  With several processes, SIGTERM is left to JAX: `jax.distributed` listens
  for it in C++ and tells every process, and `Checkpointer.reached_preemption`
  then agrees on one step at which they all save and stop. A Python handler
  would replace JAX's: the process signalled would stop alone and the others
  wait in their next all-reduce forever. SIGINT (Ctrl-C in one process's
  terminal) is turned into that SIGTERM, so it stops all of them too.
  """

  def __init__(self):
    self.received = None
    self._previous = {}
    if jax.process_count() == 1:
      handlers = {signal.SIGINT: self._handle, signal.SIGTERM: self._handle}
    else:
      handlers = {signal.SIGINT: self._to_sigterm}
    for sig, handler in handlers.items():
      self._previous[sig] = signal.signal(sig, handler)

  def _handle(self, signum, frame):
    del frame
    self.received = signal.Signals(signum).name

  def _to_sigterm(self, signum, frame):
    del signum, frame
    logging.warning('SIGINT: telling every process to stop (as SIGTERM).')
    os.kill(os.getpid(), signal.SIGTERM)

  def restore(self):
    """Reinstalls the handlers that were there before."""
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
