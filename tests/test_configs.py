"""Every config loads, has the reference settings, and trains a step."""

import glob
import importlib.util
import os

import clip_dataset
from flax import nnx
import jax
import numpy as np
import pytest

from audfer_jax import input_pipeline
from audfer_jax import optim
from audfer_jax import train
from audfer_jax import train_loop
from configs import common

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = sorted(glob.glob(os.path.join(ROOT, 'configs', '*.py')))
EXPERIMENTS = [
  f'{d}_{m}'
  for d in ('dfew', 'ferv39k', 'mafw')
  for m in ('mae', 'm3dfel', 'former')
]


def load(name):
  """`get_config()` of configs/<name>.py, loaded from its path like run.py."""
  path = os.path.join(ROOT, 'configs', f'{name}.py')
  spec = importlib.util.spec_from_file_location(f'cfg_{name}', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def test_there_is_a_config_per_model_and_dataset():
  names = {os.path.basename(f)[:-3] for f in FILES}
  assert set(EXPERIMENTS) | {'default', 'demo', 'common'} == names


@pytest.mark.parametrize('name', [*EXPERIMENTS, 'default', 'demo'])
def test_config_loads_with_only_known_fields(name):
  config = load(name)
  base = common.get_base_config()
  assert set(config.keys()) == set(base.keys())
  assert set(config.augment.keys()) == set(base.augment.keys())
  assert config.knowledge == 'paper' and config.pos_weight == 'global'
  assert config.au_lambda == 0.25
  assert optim.create_schedule(config, 10, 1000)(500) > 0


def test_reference_hyper_parameters():
  mae = load('dfew_mae')
  assert mae.dataset == 'dfew/clip_224x224' and mae.sampling_rate == 4
  assert optim.peak_learning_rate(mae) == pytest.approx(1.25e-4)
  assert (mae.layer_decay, mae.eval_views, mae.normalize) == (
    0.75,
    2,
    'imagenet',
  )
  assert mae.augment.mixup == 0.8 and mae.augment.cutmix == 1.0
  ferv = load('ferv39k_mae')
  assert ferv.sampling_rate == 1 and ferv.batch_size == 40
  assert optim.peak_learning_rate(ferv) == pytest.approx(1.5625e-4)
  m3dfel = load('dfew_m3dfel')
  assert m3dfel.dataset == 'dfew/clip_224x224_16f'
  assert (m3dfel.warmup_epochs, m3dfel.min_lr, m3dfel.warmup_prefix) == (
    20,
    5e-6,
    False,
  )
  assert m3dfel.label_smoothing == 0.1 and m3dfel.batch_size == 64
  former = load('mafw_former')
  assert former.dataset == 'mafw/7_classes' and former.optimizer == 'sgd'
  assert (former.step_epochs, former.frames_per_segment) == (40, 2)


def test_paper_configs_sample_as_the_authors_code():
  samplers = {
    'mae': 'mae_dfer_upstream',
    'm3dfel': 'm3dfel_upstream',
    'former': 'former_dfer_upstream',
  }
  want = {name: samplers[name.split('_')[1]] for name in EXPERIMENTS}
  # AU-DFER's Former-DFER reads all 16 frames of DFEW's 16-frame clips.
  want['dfew_former'] = 'all_frames'
  assert {name: load(name).sampling for name in EXPERIMENTS} == want
  assert load('dfew_former').dataset == 'dfew/clip_224x224_16f'
  assert {load(name).sampling for name in EXPERIMENTS} < set(
    input_pipeline.SAMPLERS
  )
  # The demo keeps the clean TSN its README numbers were made with.
  assert load('demo').sampling == 'segments'


def test_fold_selects_splits():
  config = load('dfew_mae')
  config.fold = 3
  assert input_pipeline.resolve_splits(config) == (
    'set_1+set_2+set_4+set_5',
    'set_3',
  )


@pytest.fixture(scope='module')
def builder(tmp_path_factory):
  return clip_dataset.prepare(tmp_path_factory.mktemp('tfds'))


@pytest.mark.parametrize(
  'name,model',
  [
    ('dfew_m3dfel', 'm3dfel_tiny'),
    ('ferv39k_former', 'former_dfer_tiny'),
    ('mafw_mae', 'mae_dfer_tiny'),
  ],
)
def test_config_trains_a_step_on_8_devices(builder, name, model):
  """The config's own pipeline, optimizer and a tiny model of its family."""
  config = load(name)
  config.model, config.batch_size = model, 8
  shape = train_loop.clip_shape(config)
  mesh = train.create_mesh(config)
  data = jax.NamedSharding(mesh, jax.P('data'))
  config.train_split = config.test_split = 'train'
  batches = input_pipeline.train_batches(
    builder, 'train', config, shape, data, 0, 1
  )
  _, batch = next(batches)
  assert batch['video'].shape == (8, 8, 32, 32, 3)
  # MAE-DFER's mixup gives soft targets.
  assert batch['label'].ndim == (2 if name.endswith('mae') else 1)
  model, optimizer = train.create_model_and_optimizer(
    config, 7, optim.create_schedule(config, 3, 30), mesh
  )
  with jax.set_mesh(mesh):
    before = jax.tree.map(
      np.array, nnx.to_pure_dict(nnx.state(model, nnx.Param))
    )
    step = train.make_train_step(
      config, np.ones((7, 18)), np.ones(18), model, optimizer
    )
    # Two steps: M3DFEL's warmup starts at lr 0 (optax counts the steps).
    state, _ = step(nnx.state((model, optimizer)), batch, 0)
    state, terms = step(state, batch, 1)
    terms = jax.device_get(terms)
    nnx.update((model, optimizer), state)
  assert terms['finite'] and 0 < terms['loss'] < 10
  after = nnx.to_pure_dict(nnx.state(model, nnx.Param))
  changed = [
    not np.array_equal(a, b)
    for a, b in zip(
      jax.tree.leaves(before), jax.tree.leaves(after), strict=True
    )
  ]
  assert np.mean(changed) > 0.9, np.mean(changed)
