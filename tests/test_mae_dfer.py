"""MAE-DFER LGI-Former / VideoMAE ViT: torch parity, conversion, size."""

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
import torch_reference_mae

from audfer_jax import models
from audfer_jax.convert import __main__ as cli
from audfer_jax.convert import common
from audfer_jax.convert import mae_dfer as convert_mae
from audfer_jax.models import mae_dfer
from audfer_jax.models import vit_blocks

# Small parity config: a (2, 4, 4) token grid cut into 2x2x2 = 8 regions of
# 1x2x2 tokens, so every axis of the region rearrange is exercised.
SMALL = dict(dim=64, depth=2, heads=4, frames=4, size=32, patch=8)
REGION = (1, 2, 2)


@pytest.fixture(autouse=True)
def _highest_precision():
  with jax.default_matmul_precision('highest'):
    yield


def _torch_model(joint, num_classes=7, seed=0):
  torch.manual_seed(seed)
  region = None if joint else REGION
  return torch_reference_mae.VideoViT(num_classes, region_size=region, **SMALL)


def _flax_model(joint, num_classes=7, drop_path_rate=0.0, **overrides):
  kw = dict(
    embed_dim=SMALL['dim'],
    depth=SMALL['depth'],
    num_heads=SMALL['heads'],
    num_frames=SMALL['frames'],
    img_size=SMALL['size'],
    patch_size=SMALL['patch'],
    drop_path_rate=drop_path_rate,
  )
  if joint:
    kw['attn_type'] = 'joint'
  else:
    kw['region_size'] = REGION
  return mae_dfer.VideoTransformer(
    num_classes, rngs=nnx.Rngs(1), **kw, **overrides
  )


def _video(batch=2):
  shape = (batch, SMALL['frames'], SMALL['size'], SMALL['size'], 3)
  return np.random.default_rng(0).normal(size=shape).astype(np.float32)


def _torch_outputs(tmodel, video, au_head):
  """Expression logits, AU logits (with the given Flax AU head), feature."""
  with torch.no_grad():
    feature = tmodel.features(torch.from_numpy(video).permute(0, 4, 1, 2, 3))
    expr = tmodel.head(feature).numpy()
  feature = feature.numpy()
  au = feature @ np.asarray(au_head.kernel[...]) + np.asarray(au_head.bias[...])
  return expr, au, feature


def _convert(state_dict, tmp_path, model):
  """Saves a torch checkpoint the way the authors do, then converts it."""
  path = tmp_path / 'checkpoint.pth'
  torch.save({'model': state_dict, 'epoch': 3}, path)
  flat, reinit = convert_mae.to_flax(common.load_torch_checkpoint(path), model)
  common.assign_state(model, flat, reinit=reinit)


def _assert_parity(model, tmodel, video):
  want = _torch_outputs(tmodel, video, model.au_head)
  for mode in ('eval', 'train'):
    getattr(model, mode)()
    tmodel.train(mode == 'train')
    got = model(jnp.asarray(video), return_feature=True)
    for g, w in zip(got, want, strict=True):
      np.testing.assert_allclose(np.asarray(g), w, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('joint', [False, True], ids=['lgi', 'vit'])
def test_finetuned_checkpoint_parity(joint, tmp_path):
  tmodel = _torch_model(joint)
  model = _flax_model(joint)
  _convert(tmodel.state_dict(), tmp_path, model)
  _assert_parity(model, tmodel, _video())


@pytest.mark.parametrize('joint', [False, True], ids=['lgi', 'vit'])
def test_pretraining_checkpoint_parity(joint, tmp_path, capsys):
  tmodel = _torch_model(joint)
  rng = np.random.default_rng(1)

  def rand(*shape):
    return torch.from_numpy(rng.normal(size=shape).astype(np.float32))

  sd = {
    f'encoder.{k}': v
    for k, v in tmodel.state_dict().items()
    if not k.startswith(('fc_norm.', 'head.'))
  }
  sd.update(
    {
      'encoder.norm.weight': rand(64),
      'encoder.norm.bias': rand(64),
      'encoder_to_decoder.weight': rand(48, 64),
      'mask_token': rand(1, 1, 48),
      'decoder.blocks.0.attn.qkv.weight': rand(144, 48),
      'decoder.blocks.0.attn.q_bias': rand(48),
      'decoder.norm.weight': rand(48),
      'decoder.head.weight': rand(384, 48),
    }
  )
  model = _flax_model(joint)
  _convert(sd, tmp_path, model)
  assert 'fc_norm' in capsys.readouterr().out
  # fc_norm and the head are fresh: LayerNorm identity, head x 0.001 init.
  np.testing.assert_array_equal(model.fc_norm.scale[...], np.ones(64))
  assert np.abs(np.asarray(model.head.kernel[...])).max() < 1e-3
  # Give the torch model the same fresh fc_norm/head, then compare.
  with torch.no_grad():
    tmodel.fc_norm.weight.copy_(torch.from_numpy(np.array(model.fc_norm.scale)))
    tmodel.fc_norm.bias.copy_(torch.from_numpy(np.array(model.fc_norm.bias)))
    tmodel.head.weight.copy_(torch.from_numpy(np.array(model.head.kernel).T))
    tmodel.head.bias.copy_(torch.from_numpy(np.array(model.head.bias)))
  _assert_parity(model, tmodel, _video())


def test_mafw_head_is_reinitialised(tmp_path, capsys):
  tmodel = _torch_model(joint=False, num_classes=11)
  model = _flax_model(joint=False, num_classes=7)
  fresh_head = np.array(model.head.kernel)
  _convert(tmodel.state_dict(), tmp_path, model)
  assert '11 classes' in capsys.readouterr().out
  np.testing.assert_array_equal(model.head.kernel[...], fresh_head)
  # Everything before the head did come from the checkpoint.
  video = _video()
  _, _, want = _torch_outputs(tmodel, video, model.au_head)
  model.eval()
  _, _, got = model(jnp.asarray(video), return_feature=True)
  np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_bad_checkpoint_lists_every_problem(tmp_path):
  sd = _torch_model(joint=False).state_dict()
  del sd['blocks.1.second_attn.v_bias']
  sd['blocks.0.extra.weight'] = torch.zeros(3, 3)
  sd['fc_norm.bias'] = torch.zeros(65)
  with pytest.raises(common.ConversionError) as err:
    _convert(sd, tmp_path, _flax_model(joint=False))
  msg = str(err.value)
  for name in ('blocks/1/second_attn/v_bias', 'blocks/0/extra/kernel'):
    assert name in msg
  assert 'fc_norm/bias: checkpoint (65,)' in msg


def test_drop_path_zeroes_or_rescales_whole_samples():
  x = jnp.ones((64, 3, 4))
  y = np.asarray(vit_blocks.drop_path(0.25, nnx.Rngs(dropout=0))(x))
  per_sample = y.reshape(64, -1)
  assert (per_sample == per_sample[:, :1]).all()  # one draw per sample
  assert set(per_sample[:, 0]) == {0.0, np.float32(1 / 0.75)}


def test_drop_path_rates_and_train_only():
  model = _flax_model(joint=False, drop_path_rate=0.5)
  rates = [block.drop_path.rate for block in model.blocks]
  assert rates == [0.0, 0.5]  # linear from 0 to the rate over the blocks
  video = jnp.asarray(_video())
  model.eval()
  first = model(video)[0]
  np.testing.assert_array_equal(first, model(video)[0])
  model.train()
  outs = [np.asarray(model(video)[0]) for _ in range(2)]
  assert not np.allclose(outs[0], outs[1])


def test_bfloat16_compute_keeps_float32_params():
  model = _flax_model(joint=False)
  video = jnp.asarray(_video())
  model.eval()
  want = model(video)[0]
  model_bf16 = _flax_model(joint=False, dtype=jnp.bfloat16)
  model_bf16.eval()
  params = nnx.state(model_bf16, nnx.Param)
  assert {x.dtype for x in jax.tree.leaves(params)} == {jnp.dtype('float32')}
  got = model_bf16(video)[0]
  assert got.dtype == jnp.bfloat16
  np.testing.assert_allclose(got.astype(jnp.float32), want, atol=2e-3)


def test_wrong_clip_shape_is_rejected():
  with pytest.raises(ValueError, match=r'video must be \[B, 4, 32, 32, 3\]'):
    _flax_model(joint=False)(jnp.zeros((1, 4, 64, 64, 3)))
  with pytest.raises(ValueError, match='region_size'):
    models.create('mae_dfer_tiny', 7, rngs=nnx.Rngs(0), region_size=(3, 2, 2))


def _full(name):
  return nnx.eval_shape(lambda: models.create(name, 7, rngs=nnx.Rngs(0)))


def _num_params(model):
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


@pytest.mark.parametrize(
  'name, want, dim',
  [
    # sunlicai/MAE-DFER DFEW fine-tuning log: 84,878,343, + an 18-way AU head.
    ('mae_dfer', 84_878_343 + 18 * 513, 512),
    ('videomae_vit_b', 86_232_583 + 18 * 769, 768),
  ],
)
def test_full_size_parameter_count_and_shapes(name, want, dim):
  model = _full(name)
  assert _num_params(model) == want
  assert models.input_shape(name) == (16, 160, 160, 3)
  video = jax.ShapeDtypeStruct((2, 16, 160, 160, 3), jnp.float32)
  out = nnx.eval_shape(lambda m, v: m(v, return_feature=True), model, video)
  assert [o.shape for o in out] == [(2, 7), (2, 18), (2, dim)]


@pytest.mark.parametrize(
  'name, ref_gmacs, ffn_acts',
  [
    # depth x tokens per FFN (8 regions x (100 + 1 representative)) x hidden.
    ('mae_dfer', 49.75, (16, 808, 2048)),
    ('videomae_vit_b', 80.76, (12, 800, 3072)),
  ],
)
def test_full_size_flops(name, ref_gmacs, ffn_acts):
  graph, state = nnx.split(_full(name))

  def forward(state, video):
    model = nnx.merge(graph, state)
    model.eval()
    return model(video)

  video = jax.ShapeDtypeStruct((1, 16, 160, 160, 3), jnp.float32)
  compiled = jax.jit(forward).lower(state, video).compile()
  flops = compiled.cost_analysis()['flops']
  # The reference (fvcore) counts only multiply-accumulates, but XLA expands
  # exact GELU's erf into a polynomial and counts it (~64 flops/element, 2%
  # of the total). Measure that part on a standalone GELU of the FFN size.
  gelu = jax.jit(lambda x: jax.nn.gelu(x, approximate=False))
  acts = jax.ShapeDtypeStruct(ffn_acts, jnp.float32)
  gelu_flops = gelu.lower(acts).compile().cost_analysis()['flops']
  assert gelu_flops > 0
  gmacs = (flops - gelu_flops) / 2e9
  assert abs(gmacs / ref_gmacs - 1) < 0.01, gmacs


@pytest.mark.parametrize(
  'name, unused',
  [
    # Only the representative tokens are pooled, so the last block's
    # local-global cross-attention (which updates only the local tokens)
    # cannot reach the output: its gradient is exactly zero, as in MAE-DFER.
    ('mae_dfer_tiny', 'blocks/1/third_attn'),
    ('videomae_vit_b_tiny', None),
  ],
)
def test_tiny_registry_entries_train_step(name, unused):
  model = models.create(name, 7, rngs=nnx.Rngs(0))
  video = jnp.asarray(
    np.random.default_rng(0).normal(size=(2, *models.input_shape(name))),
    jnp.float32,
  )

  def loss(model):
    expr, au = model(video)
    return (expr**2).sum() + (au**2).sum()

  model.train()
  grads = nnx.to_flat_state(nnx.jit(nnx.grad(loss))(model))
  zero = set()
  for path, g in grads:
    assert np.isfinite(g[...]).all()
    if not np.any(g[...]):
      zero.add('/'.join(map(str, path)))
  want = {
    p for p in mae_dfer.layer_ids(model) if unused and p.startswith(unused)
  }
  assert zero == want
  assert len(want) == (10 if unused else 0)  # 3 norms' + 1 attention's params


def test_layer_ids_follow_mae_dfer():
  model = _flax_model(joint=False)  # depth 2: ids 0..3
  ids = mae_dfer.layer_ids(model)
  assert ids['patch_embed/kernel'] == 0
  assert ids['blocks/0/first_attn/q_bias'] == 1
  assert ids['blocks/1/mlp/fc2/kernel'] == 2
  for name in (
    'lg_region_tokens',
    'fc_norm/scale',
    'head/bias',
    'au_head/kernel',
  ):
    assert ids[name] == 3
  flat_params = nnx.to_flat_state(nnx.state(model, nnx.Param))
  assert len(ids) == len(flat_params)
  scales = nnx.to_flat_state(mae_dfer.lr_scales(model, 0.5))
  by_name = {'/'.join(map(str, p)): s for p, s in scales}
  assert by_name['patch_embed/bias'] == 0.125  # 0.5 ** 3
  assert by_name['blocks/1/norm2/scale'] == 0.5
  assert by_name['head/kernel'] == 1.0


def test_lr_scales_recipe_scales_the_optimizer_step():
  model = _flax_model(joint=False)
  scales = mae_dfer.lr_scales(model, 0.5)
  tx = optax.chain(
    optax.sgd(1.0),
    optax.stateless(lambda u, _: jax.tree.map(jnp.multiply, u, scales)),
  )
  optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
  before = nnx.state(model, nnx.Param).to_pure_dict()
  # Unit gradients: the step then equals minus the per-parameter scale.
  optimizer.update(
    model, jax.tree.map(jnp.ones_like, nnx.state(model, nnx.Param))
  )
  after = nnx.state(model, nnx.Param).to_pure_dict()
  for path, scale in [
    (('patch_embed', 'kernel'), 0.125),
    (('blocks', 1, 'mlp', 'fc1', 'kernel'), 0.5),
    (('lg_region_tokens',), 1.0),
  ]:
    b, a = before, after
    for key in path:
      b, a = b[key], a[key]
    np.testing.assert_allclose(b - a, scale, rtol=1e-5)


@pytest.mark.parametrize(
  'name, torch_kw, num_tensors, numel',
  [
    # The released fine-tuned checkpoints: 519 tensors, 84,878,343 params.
    (
      'mae_dfer',
      dict(dim=512, depth=16, heads=8, region_size=(2, 5, 10)),
      519,
      84_878_343,
    ),
    (
      'videomae_vit_b',
      dict(dim=768, depth=12, heads=12),
      12 * 13 + 6,
      86_232_583,
    ),
  ],
)
def test_full_size_checkpoint_keys_map_onto_the_model(
  name, torch_kw, num_tensors, numel
):
  with torch.device('meta'):  # shapes only, no 85M-parameter init
    tmodel = torch_reference_mae.VideoViT(
      7, frames=16, size=160, patch=16, **torch_kw
    )
  sd = {
    k: np.zeros(v.shape, np.float32) for k, v in tmodel.state_dict().items()
  }
  assert len(sd) == num_tensors
  assert sum(v.size for v in sd.values()) == numel
  model = _full(name)
  flat, reinit = convert_mae.to_flax(sd, model)
  # The groups taken or re-initialised whole; the head is in `flat`.
  assert reinit == ('head/', 'au_head/')
  want = {
    '/'.join(map(str, p)): v.shape
    for p, v in nnx.to_flat_state(nnx.state(model, nnx.Param))
    if p[0] != 'au_head'
  }
  assert {k: v.shape for k, v in flat.items()} == want


def test_conversion_command_round_trip(tmp_path):
  torch.manual_seed(3)
  tiny = dict(dim=64, depth=2, heads=4, frames=8, size=32, patch=8)
  # The registry's mae_dfer_tiny configuration.
  tmodel = torch_reference_mae.VideoViT(7, region_size=(2, 2, 2), **tiny)
  path = tmp_path / 'mae_dfer_tiny.pth'
  torch.save({'model': tmodel.state_dict()}, path)
  out = tmp_path / 'converted'
  argv = ['--model', 'mae_dfer_tiny', '--checkpoint', str(path)]
  assert cli.main([*argv, '--out', str(out)]) == 0
  # Drop path off: train-mode parity needs a deterministic forward.
  model = models.create(
    'mae_dfer_tiny', 7, rngs=nnx.Rngs(5), drop_path_rate=0.0
  )
  common.load_converted(model, out)
  video = np.random.default_rng(4).normal(size=(2, 8, 32, 32, 3))
  video = video.astype(np.float32)
  _assert_parity(model, tmodel, video)
