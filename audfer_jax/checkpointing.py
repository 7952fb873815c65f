"""Orbax checkpoints: periodic, best-by-metric, and on preemption.

A checkpoint holds the model's parameters and batch statistics, the optimizer
state and a JSON record (step, best result so far). That is everything a run
needs to continue exactly: the data position and the dropout keys are
functions of the step (see `input_pipeline` and `train`).
"""

import signal

from flax import nnx
import jax
import orbax.checkpoint as ocp


def model_state(model):
  """The checkpointed part of a model: all variables but its RNG streams."""
  return nnx.state(model, nnx.Not(nnx.RngState))


def _abstract(tree):
  return jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)


def _key(entry):
  for attr in ('key', 'idx', 'name'):
    if hasattr(entry, attr):
      return str(getattr(entry, attr))
  return str(entry)


def _paths(tree):
  """'a/b/0'-style leaf paths, without NNX's `.value` attribute hop."""
  return {
    '/'.join(_key(k) for k in path if _key(k) != 'value')
    for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]
  }


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
    missing = _paths(target) - _paths(stored)
    extra = _paths(stored) - _paths(target)
    if missing or extra:
      raise ValueError(
        f'Checkpoint {self.directory}/{step} does not match this model: '
        f'missing in the checkpoint {sorted(missing)[:10]}, unexpected '
        f'{sorted(extra)[:10]} ({len(missing)} and {len(extra)} keys).'
      )
    restored = self._manager.restore(
      step,
      args=ocp.args.Composite(
        state=ocp.args.StandardRestore(_abstract(target)),
        meta=ocp.args.JsonRestore(),
      ),
    )
    return restored['state'], restored['meta']

  def reached_preemption(self, step):
    """True when the distributed preemption service says to stop."""
    return jax.process_count() > 1 and self._manager.reached_preemption(step)

  def wait_until_finished(self):
    """Blocks until the saves in flight are complete on disk."""
    self._manager.wait_until_finished()

  def close(self):
    self.wait_until_finished()
    self._manager.close()


class StopSignal:
  """Sets a flag on SIGTERM/SIGINT so the loop can save and exit cleanly."""

  def __init__(self):
    self.received = None
    self._previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
      self._previous[sig] = signal.signal(sig, self._handle)

  def _handle(self, signum, frame):
    del frame
    self.received = signal.Signals(signum).name

  def restore(self):
    """Reinstalls the handlers that were there before."""
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
