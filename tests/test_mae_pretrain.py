"""MAE-DFER pre-training: masks, targets, torch parity of the loss and the
reconstructions, the authors' checkpoint in, our encoder into fine-tuning."""

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
import torch_reference_mae_pretrain as ref

from audfer_jax import checkpointing
from audfer_jax import convert
from audfer_jax import inference
from audfer_jax import models
from audfer_jax.convert import __main__ as cli
from audfer_jax.convert import common
from audfer_jax.convert import mae_dfer_pretrain as convert_pretrain
from audfer_jax.models import mae_pretrain
from audfer_jax.models import masking
from configs import demo

TINY = 'mae_dfer_pretrain_tiny'
# The registry's tiny: 8 x 32 x 32 clips, 8 px patches -> a (4, 4, 4) token
# grid; LGI regions (2, 2, 4): two token frames x half a frame, 4 regions.
TINY_TORCH = dict(
  dim=64, depth=2, heads=4, dec_dim=32, dec_depth=1, dec_heads=2, frames=8,
  size=32, patch=8,
)  # fmt: skip
REGION = (2, 2, 4)


@pytest.fixture(autouse=True)
def _highest_precision():
  with jax.default_matmul_precision('highest'):
    yield


def _video(batch=2, shape=None):
  shape = (batch, *(shape or models.input_shape(TINY)))
  return np.random.default_rng(0).normal(size=shape).astype(np.float32)


# Masks.


@pytest.mark.parametrize(
  'kind, window, visible_rows',
  [
    # The VoxCeleb2 script: windows of 5 x 10 tokens, each with 5 visible.
    ('part_window', (5, 10), [5, 5]),
    ('tube', None, [10]),  # the whole frame: 10 visible anywhere
  ],
)
def test_masks_hide_the_authors_counts_per_window_in_tubes(
  kind, window, visible_rows
):
  grid = (8, 10, 10)
  window = masking.window_of(kind, grid, window)
  masks = np.asarray(
    masking.tube_masks(jax.random.key(0), 64, grid, 0.9, window)
  )
  assert masks.shape == (64, 800) and masks.dtype == bool
  assert (masks.sum(1) == masking.num_masked(grid, 0.9, window)).all()
  assert masking.num_masked(grid, 0.9, window) == 720
  frames = masks.reshape(64, 8, 10, 10)
  assert (frames == frames[:, :1]).all()  # the same positions every frame
  rows = len(visible_rows)
  per_window = (~frames[:, 0]).reshape(64, rows, -1).sum(-1)
  assert (per_window == visible_rows).all()


def test_masks_are_seeded_and_uniform():
  grid, window = (2, 4, 4), (2, 4)  # 2 windows of 8 tokens, 6 hidden each
  draw = jax.jit(lambda key: masking.tube_masks(key, 4000, grid, 0.75, window))
  first = np.asarray(draw(jax.random.key(1)))
  np.testing.assert_array_equal(first, draw(jax.random.key(1)))
  assert not np.array_equal(first, draw(jax.random.key(2)))
  # Every position is hidden with probability 6 / 8; 4000 draws put the
  # frequency within 4.5 standard deviations (sqrt(.75 * .25 / 4000)).
  freq = first.reshape(4000, 2, 16)[:, 0].mean(0)
  assert np.abs(freq - 0.75).max() < 4.5 * np.sqrt(0.75 * 0.25 / 4000)
  # All 28 subsets of 2 visible tokens of a window occur, evenly.
  visible = ~first.reshape(4000, 2, 16)[:, 0, :8]
  codes = visible.astype(int) @ (1 << np.arange(8))
  counts = np.unique(codes, return_counts=True)[1]
  assert len(counts) == 28 and counts.min() > 4000 / 28 / 2


def test_a_part_window_must_span_the_frame_width():
  with pytest.raises(ValueError, match='span the width'):
    masking.window_of('part_window', (8, 10, 10), (5, 5))
  with pytest.raises(ValueError, match='mask_type must be one of'):
    masking.window_of('random', (8, 10, 10), (5, 10))


# Targets.


@pytest.mark.parametrize('normalize', [True, False])
def test_targets_of_one_token_by_hand(normalize):
  video = np.random.default_rng(0).uniform(size=(1, 4, 4, 6, 3))
  got = np.asarray(
    mae_pretrain.reconstruction_targets(
      jnp.asarray(video, jnp.float32), 2, normalize=normalize
    )
  )
  assert got.shape == (1, 2 * 2 * 3, 2 * 2 * 2 * 3)
  # Token (t=1, h=0, w=2): frames 2-3, rows 0-1, columns 4-5.
  patch = video[0, 2:4, 0:2, 4:6].astype(np.float64)  # [frame, row, col, c]
  if normalize:
    flat = patch.reshape(-1, 3)
    patch = (patch - flat.mean(0)) / (flat.std(0, ddof=1) + 1e-6)
  want = np.stack([patch[0], patch[1] - patch[0]])  # appearance, motion
  np.testing.assert_allclose(got[0, 6 + 2], want.reshape(-1), atol=1e-5)


# Parity with the authors' model and loss.


def _torch_model(region, seed=0):
  torch.manual_seed(seed)
  return ref.PretrainViT(region=region, **TINY_TORCH)


def _convert(tmodel, tmp_path, **overrides):
  """Saves the torch model as the authors' script does and converts it:
  with the command (the registry's configuration) or with `convert`."""
  path = tmp_path / 'checkpoint-49.pth'
  torch.save({'model': tmodel.state_dict(), 'epoch': 49}, path)
  if overrides:
    return convert.convert(TINY, path, **overrides)
  out = tmp_path / 'converted'
  argv = ['--model', TINY, '--checkpoint', str(path), '--out', str(out)]
  assert cli.main(argv) == 0
  model = models.create(TINY, None, rngs=nnx.Rngs(9))
  common.load_converted(model, out)
  return model


@pytest.mark.parametrize(
  'overrides, region',
  [
    ({}, REGION),  # part_window masks, the recipe's
    ({'attn_type': 'joint', 'mask_type': 'tube'}, None),
  ],
  ids=['lgi-part_window', 'vit-tube'],
)
def test_loss_and_reconstructions_equal_the_authors(
  overrides, region, tmp_path
):
  tmodel = _torch_model(region)
  model = _convert(tmodel, tmp_path, **overrides)
  video = _video()
  mask = np.array(model.masks(jax.random.key(3), 2))
  got = nnx.jit(lambda m, v, k: m(v, k))(model, jnp.asarray(video), mask)
  with torch.no_grad():
    want = ref.loss(
      tmodel,
      torch.from_numpy(video).permute(0, 4, 1, 2, 3),
      torch.from_numpy(mask),
      TINY_TORCH['patch'],
      mae_pretrain.IMAGENET_MEAN,
      mae_pretrain.IMAGENET_STD,
    )
  for g, w in zip(got, want, strict=True):
    np.testing.assert_allclose(np.asarray(g), w.numpy(), atol=1e-5, rtol=1e-5)
  assert float(got.loss) > 0.5  # a random decoder is far from its targets


def test_masks_change_the_loss_and_gradients_reach_every_parameter():
  model = models.create(TINY, None, rngs=nnx.Rngs(0))
  video = jnp.asarray(_video())

  def loss(model, key):
    return model(video, model.masks(key, 2)).loss

  grads = nnx.jit(nnx.grad(loss))(model, jax.random.key(0))
  for path, g in nnx.to_flat_state(grads):
    assert np.any(g[...]), path
  losses = [nnx.jit(loss)(model, jax.random.key(k)) for k in (0, 0, 1)]
  assert losses[0] == losses[1] != losses[2]


# The full-size model and the authors' checkpoint format.


def _filled(model, flat):
  """Abstract `model` holding the arrays of `flat` (its RNG streams made
  up: the eval-mode forward draws nothing). Cheaper than building it."""
  graphdef, state = nnx.split(model)

  def fill(path, var):
    key, value = '/'.join(map(str, path)), var.get_value()
    if key in flat:
      return var.replace(jnp.asarray(flat[key]))
    if jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
      return var.replace(jax.random.key(0))
    return var.replace(jnp.zeros(value.shape, value.dtype))

  filled = [(p, fill(p, v)) for p, v in nnx.to_flat_state(state)]
  return nnx.merge(graphdef, nnx.from_flat_state(filled))


def test_full_size_checkpoint_converts_and_equals_the_authors():
  torch.manual_seed(0)
  tmodel = ref.PretrainViT(
    512, 16, 8, 384, 4, 6, frames=16, size=160, patch=16, region=(2, 5, 10)
  )
  sd = {k: v.detach().numpy() for k, v in tmodel.state_dict().items()}
  # The released checkpoint-49.pth: 575 tensors, 92,760,192 parameters.
  assert len(sd) == 575
  assert sum(v.size for v in sd.values()) == 92_760_192
  model = nnx.eval_shape(
    lambda: models.create('mae_dfer_pretrain', None, rngs=nnx.Rngs(0))
  )
  flat, reinit = convert_pretrain.to_flax(sd, model)
  assert reinit == ()
  want = {
    '/'.join(map(str, p)): v.shape
    for p, v in nnx.to_flat_state(nnx.state(model, nnx.Param))
  }
  assert {k: v.shape for k, v in flat.items()} == want
  assert model.num_masked == 720  # 0.9 of each 5 x 10 window
  model = _filled(model, flat)
  model.eval()
  video = _video(1, shape=(16, 160, 160, 3))
  mask = np.array(model.masks(jax.random.key(0), 1))
  got = nnx.jit(lambda m, v, k: m(v, k))(model, jnp.asarray(video), mask)
  assert got.pred.shape == got.target.shape == (1, 720, 1536)
  with torch.no_grad():
    want = ref.loss(
      tmodel,
      torch.from_numpy(video).permute(0, 4, 1, 2, 3),
      torch.from_numpy(mask),
      16,
      mae_pretrain.IMAGENET_MEAN,
      mae_pretrain.IMAGENET_STD,
    )
  for g, w in zip(got, want, strict=True):
    np.testing.assert_allclose(np.asarray(g), w.numpy(), atol=1e-5, rtol=1e-5)


def test_init_follows_the_authors():
  model = models.create(TINY, None, rngs=nnx.Rngs(0))

  def bound(x, want):
    x = np.abs(np.asarray(x[...]))
    assert want * 0.8 < x.max() <= want

  # Xavier-uniform: LGI attention per Linear, joint blocks per fused qkv.
  bound(model.encoder.blocks[0].first_attn.q.kernel, np.sqrt(6 / 128))
  bound(model.encoder.blocks[0].first_attn.kv.kernel, np.sqrt(6 / 192))
  bound(model.decoder.blocks[0].attn.q.kernel, np.sqrt(6 / 128))
  bound(model.decoder.head.kernel, np.sqrt(6 / (32 + 384)))
  bound(model.encoder_to_decoder.kernel, 1 / 8)  # torch's default Linear
  bound(model.mask_token, 0.02)  # trunc_normal_(std=.02, a=-.02, b=.02)
  bound(model.encoder.lg_region_tokens, 0.02)
  assert not np.any(model.decoder.head.bias[...])


def test_the_registry_keeps_tasks_apart():
  assert models.names('pretrain') == [
    'mae_dfer_pretrain',
    'mae_dfer_pretrain_tiny',
  ]
  assert 'mae_dfer_pretrain' not in models.names('classify')
  with pytest.raises(ValueError, match='pre-training model'):
    models.create(TINY, 7, rngs=nnx.Rngs(0))
  with pytest.raises(ValueError, match='a classifier: it needs num_classes'):
    models.create('mae_dfer_tiny', None, rngs=nnx.Rngs(0))


# Our pre-training checkpoint initialises the fine-tuning encoder.


def _save_run(workdir, model):
  """A pre-training workdir as a trainer with our Checkpointer leaves it."""
  optimizer = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
  ckpt = checkpointing.Checkpointer(str(workdir / 'checkpoints'), None)
  state = {
    'model': checkpointing.model_state(model),
    'optimizer': nnx.state(optimizer),
  }
  ckpt.save(7, state, {'step': 7}, force=True)
  ckpt.close()


def _encoder_tokens(model, video):
  """A fine-tuning model's trunk on every token, region by region."""
  x = model.run_blocks(model._regions(model.embed(video)))
  return x[:, :, 1:].reshape(x.shape[0], -1, x.shape[-1])


@pytest.mark.parametrize('source', ['run', 'converted'])
def test_pretraining_checkpoint_initialises_the_fine_tuning_encoder(
  source, tmp_path
):
  pretrained = models.create(TINY, None, rngs=nnx.Rngs(4))
  if source == 'run':
    _save_run(tmp_path / 'run', pretrained)
    init_from, loaded = (
      tmp_path / 'run',
      f'the encoder of {tmp_path}/run/checkpoints/7',
    )
  else:
    init_from = common.save_converted(pretrained, tmp_path / 'converted')
    loaded = f'converted checkpoint {init_from}'
  config = demo.get_config()
  config.model, config.init_from = 'mae_dfer_tiny', str(init_from)
  config.model_overrides = {'region_size': REGION}
  model = inference.new_model(config, 7)
  assert checkpointing.load_weights(model, config.init_from) == loaded
  fresh = inference.new_model(config, 7)
  for name in ('fc_norm', 'head', 'au_head'):  # as MAE-DFER's fine-tuning
    for got, want in zip(
      jax.tree.leaves(nnx.state(getattr(model, name))),
      jax.tree.leaves(nnx.state(getattr(fresh, name))),
      strict=True,
    ):
      np.testing.assert_array_equal(got, want)
  # The encoder computes what the pre-trained one does: on all tokens
  # visible, its tokens (before the pre-training norm) are the same.
  video = jnp.asarray(_video())
  model.eval()
  pretrained.eval()
  everything = jnp.broadcast_to(jnp.arange(64), (2, 64))
  want = pretrained.encoder(video, everything)
  got = pretrained.encoder.norm(_encoder_tokens(model, video))
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
  assert not np.allclose(
    _encoder_tokens(fresh, video), _encoder_tokens(model, video)
  )


def test_an_encoder_of_another_shape_is_refused(tmp_path):
  pretrained = models.create(TINY, None, rngs=nnx.Rngs(4))
  path = common.save_converted(pretrained, tmp_path / 'converted')
  model = models.create('mae_dfer_tiny', 7, rngs=nnx.Rngs(0))  # regions 2x2x2
  with pytest.raises(common.ConversionError) as err:
    checkpointing.load_weights(model, path)
  msg = str(err.value)
  assert "a pre-training model's encoder" in msg and path in msg
  assert 'lg_region_tokens: checkpoint (4, 64), model (8, 64)' in msg
