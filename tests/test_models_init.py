"""Models are initialised as one compiled program (`models.create`): the
weights, RNG keys and counts equal those of building the model op by op."""

from flax import nnx
import jax
import numpy as np
import pytest

from audfer_jax import models


def _arrays(module):
  """{path: numpy array} of a module's whole state, RNG keys as their data."""
  out = {}
  for path, x in jax.tree_util.tree_leaves_with_path(nnx.state(module)):
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
      x = jax.random.key_data(x)
    out[jax.tree_util.keystr(path)] = np.asarray(x)
  return out


# Former-DFER: convolutions, BatchNorm, transformers (the demo's model);
# MAE-DFER: truncated-normal transformer initialisers, layer scales.
@pytest.mark.parametrize('name', ['former_dfer_tiny', 'mae_dfer_tiny'])
def test_compiled_initialisation_equals_op_by_op(name):
  compiled = _arrays(models.create(name, 7, rngs=nnx.Rngs(3)))
  with jax.threefry_partitionable(False):  # as models.create draws
    op_by_op = _arrays(models._entry(name).factory(7, rngs=nnx.Rngs(3)))
  assert compiled.keys() == op_by_op.keys()
  for path, want in op_by_op.items():
    assert compiled[path].dtype == want.dtype, path
    np.testing.assert_array_equal(compiled[path], want, err_msg=path)
