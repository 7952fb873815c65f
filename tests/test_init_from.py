"""`config.init_from` takes the project's own runs as well as conversions."""

from flax import nnx
import jax
import numpy as np
import optax
import pytest

from audfer_jax import checkpointing
from audfer_jax import inference
from audfer_jax import models
from audfer_jax.convert import common as convert_common
from audfer_jax.training import train
from configs import demo

MODEL = 'mae_dfer_tiny'


def _params(model):
  return jax.tree.leaves(nnx.state(model, nnx.Param))


def _save_run(workdir, model, steps):
  """A workdir as training leaves it: model and optimizer state per step."""
  optimizer = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
  state = {
    'model': checkpointing.model_state(model),
    'optimizer': nnx.state(optimizer),
  }
  for kind, kind_steps in steps.items():
    ckpt = checkpointing.Checkpointer(str(workdir / kind), None)
    for step in kind_steps:
      ckpt.save(step, state, {'step': step}, force=True)
    ckpt.close()


@pytest.fixture(scope='module')
def saved(tmp_path_factory):
  """Two trained-looking models: one in checkpoints/ and best/5, one in
  best/3 only; and a converted checkpoint of a third."""
  root = tmp_path_factory.mktemp('runs')
  final = models.create(MODEL, 7, rngs=nnx.Rngs(1))
  early = models.create(MODEL, 7, rngs=nnx.Rngs(2))
  _save_run(root / 'run', early, {'best': [3]})
  _save_run(root / 'run', final, {'checkpoints': [4, 5], 'best': [5]})
  converted = models.create(MODEL, 7, rngs=nnx.Rngs(3))
  convert_common.save_converted(converted, root / 'converted')
  return root, {'final': final, 'early': early, 'converted': converted}


@pytest.mark.parametrize(
  'init_from, expected',
  [
    ('run', 'final'),  # the latest of checkpoints/
    ('run/best', 'final'),  # the latest of best/
    ('run/best/3', 'early'),  # one step
    ('run/checkpoints/5', 'final'),
    ('converted', 'converted'),
  ],
)
def test_init_from(saved, init_from, expected):
  root, reference = saved
  config = demo.get_config()
  config.model, config.init_from = MODEL, str(root / init_from)
  model = inference.create_model(config, 7)
  for got, want in zip(
    _params(model), _params(reference[expected]), strict=True
  ):
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize('init_from', ['', 'none'])
def test_empty_and_none_mean_fresh_weights(init_from):
  config = demo.get_config()
  config.model, config.init_from = MODEL, init_from
  fresh = models.create(MODEL, 7, rngs=nnx.Rngs(config.seed))
  for got, want in zip(
    _params(inference.create_model(config, 7)), _params(fresh), strict=True
  ):
    np.testing.assert_array_equal(got, want)


def test_init_from_a_folder_without_checkpoints(saved, tmp_path):
  config = demo.get_config()
  config.model, config.init_from = MODEL, str(tmp_path)
  with pytest.raises(ValueError, match='neither a training workdir'):
    inference.create_model(config, 7)
  (tmp_path / 'checkpoints').mkdir()  # a run killed before its first one
  with pytest.raises(ValueError, match='checkpoints: no checkpoint in it'):
    inference.create_model(config, 7)


def test_trainer_loads_init_from_after_building_model_and_optimizer(saved):
  root, reference = saved
  config = demo.get_config()
  config.model, config.init_from = MODEL, str(root / 'run/best/3')
  schedule = optax.constant_schedule(1e-3)
  model, optimizer = train.create_model_and_optimizer(
    config, 7, schedule, inference.create_mesh(config)
  )
  for got, want in zip(
    _params(model), _params(reference['early']), strict=True
  ):
    np.testing.assert_array_equal(got, want)
  # AdamW's moments start at zero whatever the weights.
  moments = jax.tree.leaves(nnx.state(optimizer, nnx.optimizer.OptState))
  assert len(moments) > 2 * len(_params(model))  # mu, nu, step count
  assert all(not np.any(np.asarray(x)) for x in moments)
