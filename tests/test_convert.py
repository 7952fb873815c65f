"""PyTorch -> Flax conversion: parity with compact torch models, checkpoint
formats (DataParallel prefixes, pickled RecorderMeter, Kinetics r3d_18),
head re-initialisation, error reporting and the CLI / Orbax round trip."""

import importlib
import pickle
import shutil
import sys

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch_reference.former_dfer import FormerDFER
from torch_reference.m3dfel import M3DFEL
from torch_reference.r3d import R3D18

from audfer_jax import convert
from audfer_jax import inference
from audfer_jax import models
from audfer_jax.convert import __main__ as cli
from audfer_jax.convert import common
from audfer_jax.convert import former_dfer
from audfer_jax.convert import kinetics
from audfer_jax.convert import m3dfel
from audfer_jax.convert import r3d

TINY_WIDTHS = (8, 16, 16, 32)
# Torch twins of the registry's tiny variants, and their input layouts
# ([B, T, H, W, 3] -> torch).
TORCH_TINY = {
  'r3d_18_tiny': (
    lambda nc: R3D18(nc, widths=TINY_WIDTHS),
    lambda v: v.permute(0, 4, 1, 2, 3),
  ),
  'm3dfel_tiny': (
    lambda nc: M3DFEL(
      nc, TINY_WIDTHS, num_frames=8, instance_length=2, hidden=16, heads=2
    ),
    lambda v: v.permute(0, 1, 4, 2, 3),
  ),
  'former_dfer_tiny': (
    lambda nc: FormerDFER(
      nc, TINY_WIDTHS, image_size=32, num_frames=8, s_heads=2, s_dim_head=8,
      s_mlp_dim=32, t_depth=1, t_heads=2, t_dim_head=16, t_mlp_dim=64,
    ),
    lambda v: v.permute(0, 1, 4, 2, 3),
  ),
}  # fmt: skip

MAPPINGS = {
  'r3d_18_tiny': r3d,
  'm3dfel_tiny': m3dfel,
  'former_dfer_tiny': former_dfer,
}


@pytest.fixture(autouse=True)
def _highest_precision():
  with jax.default_matmul_precision('highest'):
    yield


def _torch_model(name, num_classes=7, seed=0):
  """Tiny torch twin with random BatchNorm stats/affines and DMIN weights,
  so that eval mode and the normalisations are not identities."""
  torch.manual_seed(seed)
  return _randomise_norms(TORCH_TINY[name][0](num_classes), seed)


def _randomise_norms(model, seed):
  gen = torch.Generator().manual_seed(seed + 1)
  with torch.no_grad():
    for module in model.modules():
      if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
        n = module.num_features
        module.running_mean.copy_(0.2 * torch.randn(n, generator=gen))
        module.running_var.copy_(0.5 + torch.rand(n, generator=gen))
        module.weight.copy_(1 + 0.2 * torch.randn(n, generator=gen))
        module.bias.copy_(0.2 * torch.randn(n, generator=gen))
    for pname, p in model.named_parameters():
      if pname.startswith('norm.'):  # M3DFEL's DMIN
        p.copy_(p + 0.3 * torch.randn(p.shape, generator=gen))
  return model


def _save(tmp_path, obj, name='ckpt.pth'):
  path = tmp_path / name
  torch.save(obj, path)
  return path


def _video(name, batch=2, seed=0):
  shape = (batch, *models.input_shape(name))
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _torch_outputs(tmodel, name, video, au_head):
  """Torch expression logits, feature, and AU logits with `au_head`'s
  (converted Flax) weights."""
  logits, feature = tmodel(
    TORCH_TINY[name][1](torch.from_numpy(video)), return_feature=True
  )
  au = feature.detach().numpy() @ np.asarray(au_head.kernel[...]) + np.asarray(
    au_head.bias[...]
  )
  return logits.detach().numpy(), feature.detach().numpy(), au


def _running_stats_match(model, tmodel, mapping):
  """Compares every BatchNorm running mean and variance, paired by the key
  mapping."""
  sd = {k: v.numpy() for k, v in tmodel.state_dict().items()}
  flat, _ = mapping.to_flax(sd, model)
  for stat in ('mean', 'var'):
    want = {k: v for k, v in flat.items() if k.endswith(f'/{stat}')}
    state = {
      '/'.join(map(str, path)): v[...]
      for path, v in nnx.to_flat_state(nnx.state(model, nnx.BatchStat))
      if path[-1] == stat
    }
    assert sorted(want) == sorted(state)
    for key, value in want.items():
      np.testing.assert_allclose(state[key], value, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('name', sorted(TORCH_TINY))
def test_parity_with_torch(name, tmp_path):
  tmodel = _torch_model(name)
  sd = tmodel.state_dict()
  if name != 'r3d_18_tiny':  # fine-tuned files: DataParallel + extra keys
    sd = {
      'epoch': 3,
      'state_dict': {f'module.{k}': v for k, v in sd.items()},
    }
  model = convert.convert(name, _save(tmp_path, sd), num_classes=7)
  video = _video(name)

  tmodel.eval()
  model.eval()
  forward = nnx.jit(lambda m, v: m(v, return_feature=True))
  expr, au, feature = forward(model, jnp.asarray(video))
  t_expr, t_feature, t_au = _torch_outputs(tmodel, name, video, model.au_head)
  np.testing.assert_allclose(feature, t_feature, atol=1e-4, rtol=1e-4)
  np.testing.assert_allclose(expr, t_expr, atol=1e-4, rtol=1e-4)
  np.testing.assert_allclose(au, t_au, atol=1e-4, rtol=1e-4)

  # Train mode: BatchNorm uses batch statistics and updates its running
  # statistics (the variance with PyTorch's unbiased update).
  tmodel.train()
  model.train()
  expr, au, _ = forward(model, jnp.asarray(video))
  t_expr, _, t_au = _torch_outputs(tmodel, name, video, model.au_head)
  np.testing.assert_allclose(expr, t_expr, atol=1e-4, rtol=1e-4)
  np.testing.assert_allclose(au, t_au, atol=1e-4, rtol=1e-4)
  _running_stats_match(model, tmodel, MAPPINGS[name])


def test_kinetics_r3d_into_r3d_reinitialises_head(tmp_path, capsys):
  tmodel = _torch_model('r3d_18_tiny', num_classes=400).eval()
  sd = {k: v for k, v in tmodel.state_dict().items() if 'num_batches' not in k}
  model = convert.convert('r3d_18_tiny', _save(tmp_path, sd), num_classes=7)
  assert 'Re-initialised' in capsys.readouterr().out
  fresh = models.create('r3d_18_tiny', 7, rngs=nnx.Rngs(0))
  np.testing.assert_array_equal(model.head.kernel[...], fresh.head.kernel[...])
  model.eval()
  video = _video('r3d_18_tiny')
  _, _, feature = model(jnp.asarray(video), return_feature=True)
  _, t_feature = tmodel(torch.from_numpy(video).permute(0, 4, 1, 2, 3), True)
  np.testing.assert_allclose(feature, t_feature.detach(), atol=1e-4)


def test_kinetics_r3d_into_m3dfel_features(tmp_path, capsys):
  tmodel = _torch_model('r3d_18_tiny', num_classes=400).eval()
  path = _save(tmp_path, tmodel.state_dict())  # with num_batches_tracked
  model = convert.convert('m3dfel_tiny', path, num_classes=7)
  out = capsys.readouterr().out
  assert 'features' in out and 'lstm/0/forward/ih/kernel' in out
  fresh = models.create('m3dfel_tiny', 7, rngs=nnx.Rngs(0))
  np.testing.assert_array_equal(
    model.lstm[0].forward.ih.kernel[...], fresh.lstm[0].forward.ih.kernel[...]
  )
  model.eval()
  clip = _video('r3d_18_tiny')[:, :2]  # one 2-frame instance per example
  t_feature = tmodel(torch.from_numpy(clip).permute(0, 4, 1, 2, 3), True)[1]
  np.testing.assert_allclose(
    model.features(jnp.asarray(clip)), t_feature.detach(), atol=1e-4
  )


def test_former_dfer_file_with_recorder_and_mafw_head(tmp_path, monkeypatch):
  # The released files pickle a RecorderMeter from the training script's
  # __main__; make one that is importable only while saving.
  recorder_cls = type(
    'RecorderMeter', (), {'__module__': '__main__', 'total_epoch': 100}
  )
  recorder = recorder_cls()
  recorder.epoch_losses = np.zeros((100, 2), np.float32)
  tmodel = _torch_model('former_dfer_tiny', num_classes=11)
  sd = {f'module.{k}': v for k, v in tmodel.state_dict().items()}
  with monkeypatch.context() as m:
    m.setattr(sys.modules['__main__'], 'RecorderMeter', recorder_cls, False)
    path = _save(
      tmp_path,
      {'epoch': 5, 'state_dict': sd, 'best_acc': 0.5, 'recorder': recorder},
    )
  assert not hasattr(sys.modules['__main__'], 'RecorderMeter')
  with pytest.raises(pickle.UnpicklingError):
    torch.load(path, weights_only=True)
  model = convert.convert('former_dfer_tiny', path, num_classes=7)
  assert model.head.kernel.shape == (32, 7)
  model.eval()
  tmodel.eval()
  video = _video('former_dfer_tiny')
  _, _, feature = model(jnp.asarray(video), return_feature=True)
  _, t_feature, _ = _torch_outputs(
    tmodel, 'former_dfer_tiny', video, model.au_head
  )
  np.testing.assert_allclose(feature, t_feature, atol=1e-4, rtol=1e-4)


def test_corrupted_state_dict_lists_every_problem(tmp_path):
  sd = _torch_model('m3dfel_tiny').state_dict()
  del sd['lstm.weight_hh_l1']
  sd['lstm.weight_ih_l0'] = sd['lstm.weight_ih_l0'][:, :-1]
  sd['extra.weight'] = torch.zeros(3)
  path = _save(tmp_path, sd)
  with pytest.raises(common.ConversionError) as err:
    convert.convert('m3dfel_tiny', path)
  msg = str(err.value)
  assert str(path) in msg
  assert '1 missing' in msg and 'lstm/1/forward/hh/kernel' in msg
  assert '1 unexpected' in msg and 'extra.weight' in msg
  assert '1 mis-shaped' in msg and 'lstm/0/forward/ih/kernel' in msg


def test_heads_are_taken_or_reinitialised_whole(tmp_path, capsys):
  sd = _torch_model('r3d_18_tiny').state_dict()
  convert.convert('r3d_18_tiny', _save(tmp_path, sd), num_classes=7)
  out = capsys.readouterr().out
  assert 'Taken from the checkpoint: head/ (fc.bias, fc.weight)' in out
  assert 'Re-initialised au_head/ (not in the checkpoint)' in out
  # A 400-class fc does not fit 7 classes: the whole head is fresh.
  sd = _torch_model('r3d_18_tiny', num_classes=400).state_dict()
  convert.convert('r3d_18_tiny', _save(tmp_path, sd), num_classes=7)
  out = capsys.readouterr().out
  assert (
    "Re-initialised head/ (the checkpoint's fc.weight gives head/kernel the "
    'shape (32, 400), the model has (32, 7)): head/bias, head/kernel' in out
  )


def test_half_loaded_head_and_stray_keys_are_refused(tmp_path):
  sd = _torch_model('r3d_18_tiny').state_dict()
  del sd['fc.weight']
  with pytest.raises(common.ConversionError) as err:
    convert.convert('r3d_18_tiny', _save(tmp_path, sd))
  assert '1 missing:\n  fc.weight (-> head/kernel)' in str(err.value)

  # Unexpected keys, also under the head, are named as in the file.
  sd = _torch_model('r3d_18_tiny').state_dict()
  sd['fc.extra'] = torch.zeros(3)
  sd['layer2.0.conv1.0.weights'] = sd.pop('layer2.0.conv1.0.weight')
  with pytest.raises(common.ConversionError) as err:
    convert.convert('m3dfel_tiny', _save(tmp_path, sd))
  msg = str(err.value)
  assert '1 unexpected' in msg  # r3d_18 into M3DFEL drops fc.*
  assert 'layer2.0.conv1.0.weights (-> features/stages/1/blocks/0/' in msg
  with pytest.raises(common.ConversionError) as err:
    convert.convert('r3d_18_tiny', _save(tmp_path, sd))
  msg = str(err.value)
  assert '2 unexpected' in msg and 'fc.extra (-> head/extra)' in msg
  assert 'layer2.0.conv1.0.weights (-> backbone/stages/1/blocks/0/' in msg
  assert '1 missing:\n  backbone/stages/1/blocks/0/conv1/kernel' in msg


def test_load_torch_checkpoint_formats_and_errors(tmp_path):
  sd = {'a.weight': torch.ones(2, 3, dtype=torch.float16), 'n': torch.tensor(4)}
  for wrapper in ('model', 'module', 'state_dict'):
    out = common.load_torch_checkpoint(_save(tmp_path, {wrapper: sd}))
    assert out['a.weight'].dtype == np.float32
    np.testing.assert_array_equal(out['a.weight'], np.ones((2, 3)))
    assert out['n'] == 4
  missing = tmp_path / 'nope.pth'
  with pytest.raises(common.ConversionError, match='nope.pth'):
    common.load_torch_checkpoint(missing)
  bad = _save(tmp_path, {'a.weight': torch.ones(2), 'note': 'x'}, 'bad.pth')
  with pytest.raises(common.ConversionError, match="bad.pth.*'note'"):
    common.load_torch_checkpoint(bad)


def test_cli_round_trip_through_orbax(tmp_path, capsys):
  tmodel = _torch_model('r3d_18_tiny')
  path = _save(tmp_path, tmodel.state_dict())
  out = tmp_path / 'converted'
  argv = ['--model', 'r3d_18_tiny', '--checkpoint', str(path)]
  assert cli.main([*argv, '--out', str(out)]) == 0
  restored = models.create('r3d_18_tiny', 7, rngs=nnx.Rngs(1))
  common.load_converted(restored, out)
  restored.eval()
  tmodel.eval()
  video = _video('r3d_18_tiny')
  expr, _ = restored(jnp.asarray(video))
  t_expr = tmodel(torch.from_numpy(video).permute(0, 4, 1, 2, 3))
  np.testing.assert_allclose(expr, t_expr.detach(), atol=1e-4, rtol=1e-4)

  capsys.readouterr()
  assert cli.main(['--model', 'former_dfer_tiny', *argv[2:], '--out',
                   str(tmp_path / 'x')]) == 1  # fmt: skip
  assert str(path) in capsys.readouterr().err


# torchvision's Kinetics-400 r3d_18 file, simulated: the same layout (keys,
# shapes, a 400-class fc), random weights. Nothing is downloaded.


@pytest.fixture(scope='module')
def kinetics_file(tmp_path_factory):
  torch.manual_seed(5)
  tmodel = _randomise_norms(R3D18(400), 5).eval()
  path = tmp_path_factory.mktemp('k400') / kinetics.FILE_NAME
  torch.save(tmodel.state_dict(), path)
  return path, tmodel


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
  monkeypatch.setenv(kinetics.ENV, str(tmp_path / 'weights'))
  return tmp_path / 'weights'


def _m3dfel_config():
  config = importlib.import_module('configs.dfew_m3dfel').get_config()
  assert config.init_from == 'kinetics400'
  return config


def test_kinetics400_from_a_file_fills_the_m3dfel_trunk_only(
  kinetics_file, weights_dir, capsys
):
  path, tmodel = kinetics_file
  config = _m3dfel_config()
  with pytest.raises(ValueError, match='python -m audfer_jax.convert kin'):
    inference.create_model(config, 7)  # not converted yet

  assert cli.main(['kinetics400', '--from', str(path)]) == 0
  out = capsys.readouterr().out
  assert f'to {weights_dir / "r3d_18_kinetics400"}' in out
  assert 'sha256' in out  # random weights: not torchvision's file
  assert kinetics.missing_message('kinetics400') is None

  # 11 classes (MAFW): only the trunk comes from the file, so any head fits.
  model = inference.create_model(config, 11)
  config.init_from = 'none'
  fresh = inference.create_model(config, 11)
  model.eval()
  clip = np.random.default_rng(0).normal(size=(2, 4, 32, 32, 3))
  clip = clip.astype(np.float32)
  t_feature = tmodel(torch.from_numpy(clip).permute(0, 4, 1, 2, 3), True)[1]
  np.testing.assert_allclose(
    model.features(jnp.asarray(clip)), t_feature.detach(), atol=1e-4
  )
  np.testing.assert_array_equal(
    model.features.stem_bn.mean[...], tmodel.stem[1].running_mean.numpy()
  )
  # Everything outside the trunk: the fresh init of config.seed.
  for part in ('lstm', 'to_qkv', 'norm', 'pwconv', 'head', 'au_head'):
    for got, want in zip(
      jax.tree.leaves(nnx.state(getattr(model, part))),
      jax.tree.leaves(nnx.state(getattr(fresh, part))),
      strict=True,
    ):
      np.testing.assert_array_equal(got, want, err_msg=part)


def test_kinetics400_downloads_once_through_torch_hub(
  kinetics_file, weights_dir, tmp_path, monkeypatch
):
  path, _ = kinetics_file
  monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
  calls = []

  def fake_download(url, dst, hash_prefix=None, progress=True):
    del progress
    calls.append((url, hash_prefix))
    shutil.copy(path, dst)

  monkeypatch.setattr(torch.hub, 'download_url_to_file', fake_download)
  hub = tmp_path / 'torch' / 'hub' / 'checkpoints' / 'r3d_18-b3b3357e.pth'
  assert cli.main(['kinetics400']) == 0
  assert hub.is_file() and kinetics.is_cached()
  assert calls == [
    ('https://download.pytorch.org/models/r3d_18-b3b3357e.pth', 'b3b3357e')
  ]
  assert cli.main(['kinetics400']) == 0  # torch.hub's copy, no download
  assert len(calls) == 1


def test_kinetics400_refuses_files_that_are_not_r3d_18(
  tmp_path, weights_dir, capsys
):
  tiny = _save(tmp_path, _torch_model('r3d_18_tiny', 400).state_dict())
  assert cli.main(['kinetics400', '--from', str(tiny)]) == 1
  err = capsys.readouterr().err
  assert str(tiny) in err and 'mis-shaped' in err
  m3dfel_sd = _torch_model('m3dfel_tiny').state_dict()
  other = _save(tmp_path, m3dfel_sd, 'm3dfel.pth')
  assert cli.main(['kinetics400', '--from', str(other)]) == 1
  assert 'not a torchvision r3d_18 state dict' in capsys.readouterr().err
  assert not kinetics.is_cached()
  assert not weights_dir.exists() or not any(weights_dir.iterdir())


def test_kinetics400_into_a_model_it_does_not_fit(kinetics_file, weights_dir):
  assert cli.main(['kinetics400', '--from', str(kinetics_file[0])]) == 0
  config = _m3dfel_config()
  for name, message in (
    ('m3dfel_tiny', 'full-size R3D-18 trunk'),
    ('former_dfer_tiny', 'has no R3D-18 trunk'),
  ):
    config.model = name
    with pytest.raises(ValueError, match=message):
      inference.create_model(config, 7)
