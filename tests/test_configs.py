"""Every config loads, has the reference settings, and trains a step."""

import glob
import importlib.util
import os

import clip_dataset
import dummy_clips
from flax import nnx
import jax
import numpy as np
import pytest

from audfer_jax import inference
from audfer_jax.data import input_pipeline
from audfer_jax.training import objective
from audfer_jax.training import optim
from audfer_jax.training import train
from configs import common
from tfds_builders.mafw import mafw_dataset_builder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAFW_DUMMY = os.path.join(
  os.path.dirname(mafw_dataset_builder.__file__), 'dummy_data'
)
FILES = sorted(glob.glob(os.path.join(ROOT, 'configs', '*.py')))
EXPERIMENTS = [
  f'{d}_{m}'
  for d in ('dfew', 'ferv39k', 'mafw', 'mafw11')
  for m in ('mae', 'm3dfel', 'former')
]
# The configs that are not a paper experiment.
OTHERS = [
  'default',
  'demo',
  'own_videos_mae',
  'pretrain_mae_dfer',
  'pretrain_demo',
  'finetune_demo',
]
# The K preset and pos_weight table of each AU-DFER run, and the upstream
# file (Cross-Innovation-Lab/AU-DFER) with those constants that its config
# names.
AUTHORS_RUNS = {
  'dfew_m3dfel': ('ferv_upstream', 'dfew', 'solver_with_AU_weighted.py'),
  'ferv39k_m3dfel': ('ferv_upstream', 'ferv39k', 'solver_with_AU_weighted.py'),
  'dfew_former': ('dfew_v1', 'dfew', 'main_DFEW.py'),
  'ferv39k_former': ('ferv_upstream', 'ferv39k', 'main_FERV39K.py'),
  'dfew_mae': ('dfew_v1', 'dfew', 'MAE-DFER_AU/engine_for_finetuning.py'),
  'ferv39k_mae': ('dfew_v1', 'ferv39k', 'MAE-DFER_AU/engine_for_finetuning.py'),
}


def load(name):
  """`get_config()` of configs/<name>.py, loaded from its path like run.py."""
  path = os.path.join(ROOT, 'configs', f'{name}.py')
  spec = importlib.util.spec_from_file_location(f'cfg_{name}', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def test_there_is_a_config_per_model_and_dataset():
  names = {os.path.basename(f)[:-3] for f in FILES}
  assert {*EXPERIMENTS, *OTHERS, 'common'} == names


@pytest.mark.parametrize('name', EXPERIMENTS + OTHERS)
def test_config_loads_with_only_known_fields(name):
  config = load(name)
  base = common.get_base_config()
  assert set(config.keys()) == set(base.keys())
  assert set(config.augment.keys()) == set(base.augment.keys())
  assert config.pos_weight == 'global'  # every AU-DFER script's default
  if name.startswith('mafw11'):  # the presets have no rows for 4 classes
    assert (config.knowledge, config.au_lambda) == ('uniform', 0)
  else:
    assert config.au_lambda == 0.25
  assert optim.create_schedule(config, 10, 1000)(500) > 0


@pytest.mark.parametrize('name', EXPERIMENTS + OTHERS)
def test_paper_configs_use_the_authors_k_and_pos_weight(name):
  config = load(name)
  with open(os.path.join(ROOT, 'configs', f'{name}.py')) as f:
    source = f.read()
  if name in AUTHORS_RUNS:
    preset, table, upstream = AUTHORS_RUNS[name]
    assert (config.knowledge, config.pos_weight_preset) == (preset, table)
    assert upstream in source
  else:  # no AU-DFER run: the paper's K, pos_weight from the training split
    assert config.knowledge in ('paper', 'uniform')
    assert config.pos_weight_preset == ''


@pytest.mark.parametrize('name', EXPERIMENTS + ['demo'])
def test_m3dfel_configs_start_from_kinetics400(name):
  config = load(name)
  if config.model == 'm3dfel':
    assert config.init_from == 'kinetics400'
  else:  # MAE-DFER's VoxCeleb2 weights are passed by hand; the rest fresh
    assert config.init_from == ''


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


def _changed_after_two_steps(config, batch, num_classes, knowledge, pos_weight):
  """Trains two steps on `batch`; returns (loss terms, fraction of the
  parameter arrays that changed)."""
  mesh = inference.create_mesh(config)
  model, optimizer = train.create_model_and_optimizer(
    config, num_classes, optim.create_schedule(config, 3, 30), mesh
  )
  with jax.set_mesh(mesh):
    before = jax.tree.map(
      np.array, nnx.to_pure_dict(nnx.state(model, nnx.Param))
    )
    step = train.make_train_step(
      config, knowledge, pos_weight, model, optimizer
    )
    # Two steps: M3DFEL's warmup starts at lr 0 (optax counts the steps).
    state, _ = step(nnx.state((model, optimizer)), batch, 0)
    state, terms = step(state, batch, 1)
    terms = jax.device_get(terms)
    nnx.update((model, optimizer), state)
  after = nnx.to_pure_dict(nnx.state(model, nnx.Param))
  changed = [
    not np.array_equal(a, b)
    for a, b in zip(
      jax.tree.leaves(before), jax.tree.leaves(after), strict=True
    )
  ]
  return terms, np.mean(changed)


def _first_batch(builder, split, config):
  mesh = inference.create_mesh(config)
  data = jax.NamedSharding(mesh, jax.P('data'))
  shape = inference.clip_shape(config)
  batches = input_pipeline.train_batches(
    builder, split, config, shape, data, 0, 1
  )
  return next(batches)[1]


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
  # The Kinetics-400 weights fit the full-size M3DFEL trunk only.
  config.init_from = 'none'
  config.train_split = config.test_split = 'train'
  batch = _first_batch(builder, 'train', config)
  assert batch['video'].shape == (8, 8, 32, 32, 3)
  # MAE-DFER's mixup gives soft targets.
  assert batch['label'].ndim == (2 if name.endswith('mae') else 1)
  terms, changed = _changed_after_two_steps(
    config, batch, 7, np.ones((7, 18)), np.ones(18)
  )
  assert terms['finite'] and 0 < terms['loss'] < 10
  assert changed > 0.9, changed


@pytest.fixture(scope='module')
def mafw11(tmp_path_factory):
  """MAFW's 11-class builder on its dummy data (9 clips in 5 folds)."""
  builder, _ = dummy_clips.build(
    'mafw/11_classes', MAFW_DUMMY, tmp_path_factory.mktemp('mafw')
  )
  return builder


def test_mafw11_config_builds_its_objective_and_trains(mafw11):
  """MAE-DFER's 11-class MAFW run: mixup's soft targets over 11 classes."""
  config = load('mafw11_mae')
  assert config.dataset == 'mafw/11_classes'
  config.model, config.batch_size = 'mae_dfer_tiny', 8
  # All five folds' clips: fold 1 trains on 7, fewer than a batch.
  split = 'set_1+set_2+set_3+set_4+set_5'
  knowledge, pos_weight = objective.build_objective(config, mafw11, split)
  # `uniform`: BCE weight 5 * 0.2 = 1 for every class and AU.
  np.testing.assert_array_equal(knowledge, np.full((11, 18), 0.2, np.float32))
  assert pos_weight.shape == (18,) and np.all(pos_weight > 0)
  batch = _first_batch(mafw11, split, config)
  assert batch['label'].shape == (8, 11)
  terms, changed = _changed_after_two_steps(
    config, batch, 11, knowledge, pos_weight
  )
  assert terms['finite'] and 0 < terms['loss'] < 10
  # Unchanged: the tiny model's last third attention (its output is not
  # used) and, at au_lambda 0, the AU head's bias: 8 of 73 arrays.
  assert changed > 0.85, changed


def test_pretraining_follows_the_authors_voxceleb2_script():
  # sunlicai/MAE-DFER scripts/voxceleb2/pretrain_*.sh: 2 processes of batch
  # 32, --lr 3e-4 --warmup_epochs 5 --epochs 100 --opt_betas 0.9 0.95;
  # run_mae_pretraining.py: warmup_lr 1e-6, min_lr 1e-5, all three times
  # the global batch / 256 = 1 / 4.
  config = load('pretrain_mae_dfer')
  assert config.model == 'mae_dfer_pretrain'
  assert (config.batch_size, config.num_epochs) == (64, 100)
  assert tuple(config.betas) == (0.9, 0.95) and config.weight_decay == 0.05
  assert (config.sampling_rate, config.normalize) == (4, 'imagenet')
  assert not config.augment.flip and not config.augment.randaugment_n
  # datasets.py `DataAugmentationForVideoMAE`: GroupMultiScaleCrop(160,
  # [1, .875, .75, .66]); optim_factory.py's name filter (test_train.py).
  assert config.augment.crop == 'group_multiscale'
  assert tuple(config.augment.crop_scales) == (1, 0.875, 0.75, 0.66)
  assert (config.wd_exclude_1d, config.wd_exempt) == (True, 'mae_dfer_upstream')
  schedule = optim.create_schedule(config, 10, 1000)  # 10 steps an epoch
  assert schedule(0) == pytest.approx(2.5e-7)
  assert schedule(50) == pytest.approx(7.5e-5)  # the end of the warmup
  assert schedule(1000) == pytest.approx(2.5e-6)
