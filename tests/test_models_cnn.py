"""R3D-18, M3DFEL and Former-DFER: registry, exact parameter counts, output
shapes, XLA FLOPs against an independent per-layer count, and tiny-model
forward/backward, batch-1 and bfloat16 behaviour. Numerical parity with
PyTorch is in test_convert.py."""

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from audfer_jax import models
from audfer_jax.models import resnet

CNN_MODELS = ('r3d_18', 'm3dfel', 'former_dfer')
FEATURE_DIM = {'r3d_18': 512, 'm3dfel': 1024, 'former_dfer': 512}
# Upstream counts (docs/reference.md) + the AU head, 18 x (feature + 1).
PARAMS = {'r3d_18': 33_179_097, 'm3dfel': 46_841_834, 'former_dfer': 18_041_177}
# Reference GMACs (fvcore / torchvision, dense convolutions).
REFERENCE_GMACS = {'r3d_18': 40.70, 'm3dfel': 43.23, 'former_dfer': 8.32}


def _num_params(tree) -> int:
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def _abstract(name):
  return nnx.eval_shape(lambda: models.create(name, 7, rngs=nnx.Rngs(0)))


def _eval_forward(model, video, **kwargs):
  """Output shapes of `model(video)` for an abstract model and input."""
  graphdef, state = nnx.split(model)
  return jax.eval_shape(
    lambda s, v: nnx.merge(graphdef, s)(v, **kwargs), state, video
  )


def test_registry():
  assert set(models.names()) >= {
    f'{n}{s}' for n in CNN_MODELS for s in ('', '_tiny')
  }
  assert models.input_shape('r3d_18') == (16, 112, 112, 3)
  with pytest.raises(ValueError, match="unknown model 'r3d_19'"):
    models.create('r3d_19', 7, rngs=nnx.Rngs(0))
  # Overrides reach the constructor.
  model = nnx.eval_shape(
    lambda: models.create('r3d_18_tiny', 3, rngs=nnx.Rngs(0), widths=(4,) * 4)
  )
  assert model.head.kernel.shape == (4, 3)


@pytest.mark.parametrize('name', CNN_MODELS)
def test_full_size_params_and_shapes(name):
  model = _abstract(name)
  assert _num_params(nnx.state(model, nnx.Param)) == PARAMS[name]
  video = jax.ShapeDtypeStruct((2, *models.input_shape(name)), jnp.float32)
  expr, au, feature = _eval_forward(model, video, return_feature=True)
  assert expr.shape == (2, 7)
  assert au.shape == (2, 18)
  assert feature.shape == (2, FEATURE_DIM[name])


def test_full_size_part_counts():
  """Sub-module counts quoted by the reference, independent of the heads."""
  r3d = _abstract('r3d_18')
  assert _num_params(nnx.state(r3d.backbone, nnx.Param)) == 33_166_272
  m3dfel = _abstract('m3dfel')
  assert _num_params(nnx.state(m3dfel.lstm, nnx.Param)) == 10_502_144
  # PyTorch's LSTM has two bias vectors (b_ih, b_hh) per gate: kept.
  assert m3dfel.lstm[1].backward.hh.bias.shape == (2048,)
  assert m3dfel.lstm[1].backward.ih.bias.shape == (2048,)
  assert _num_params(nnx.state(m3dfel.norm, nnx.Param)) == 2_052
  assert _num_params(nnx.state(m3dfel.pwconv, nnx.Param)) == 13
  former = _abstract('former_dfer')
  assert _num_params(nnx.state(former.s_former, nnx.Param)) == 11_715_392
  assert _num_params(nnx.state(former.t_former, nnx.Param)) == 6_312_960


# --- Independent MAC count -------------------------------------------------
# XLA's cost analysis counts a convolution only over kernel taps that fall
# on real input (padding taps are free); fvcore/torchvision count every tap.
# `_conv` returns both, so the test can check XLA against the first and the
# reference figures against the second.


def _taps(size, k, s, p):
  out = (size + 2 * p - k) // s + 1
  valid = sum(0 <= o * s - p + t < size for o in range(out) for t in range(k))
  return out, out * k, valid


def _conv(shape, cin, cout, k, s, p):
  """-> (output spatial shape, dense MACs, valid-tap MACs), batch 1."""
  out, dense, valid = [], cin * cout, cin * cout
  for size, kk, ss, pp in zip(shape, k, s, p, strict=True):
    o, d, v = _taps(size, kk, ss, pp)
    out, dense, valid = [*out, o], dense * d, valid * v
  return out, dense, valid


def _resnet(shape, stem, widths=(64, 128, 256, 512), after_stage=None):
  """ResNet-18-style trunk (BasicBlocks, 2 per stage): (dense, valid)."""
  n = len(shape)
  shape, dense, valid = _conv(shape, 3, widths[0], *stem)
  if n == 2:  # max-pool 3/2/1 after the 2-D stem
    shape = [_taps(x, 3, 2, 1)[0] for x in shape]
  cin = widths[0]
  for i, w in enumerate(widths):
    for b in range(2):
      s = 2 if i and not b else 1
      convs = [(shape, cin, w, (3,) * n, (s,) * n, (1,) * n)]
      if s != 1 or cin != w:
        convs.append((shape, cin, w, (1,) * n, (s,) * n, (0,) * n))
      out = _conv(*convs[0])[0]
      convs.append((out, w, w, (3,) * n, (1,) * n, (1,) * n))
      for c in convs:
        _, d, v = _conv(*c)
        dense, valid = dense + d, valid + v
      shape, cin = out, w
    if after_stage is not None and i == 2:
      extra = after_stage(int(np.prod(shape)), w)
      dense, valid = dense + extra, valid + extra
  return dense, valid


def _transformer(tokens, dim, inner, mlp, depth):
  per_layer = tokens * dim * (3 * inner + inner + 2 * mlp)
  return depth * (per_layer + 2 * tokens * tokens * inner)


def _macs(name):
  """(dense, valid-tap) MACs of one clip at the reference shape."""
  if name == 'r3d_18':
    stem = ((3, 7, 7), (1, 2, 2), (1, 3, 3))
    d, v = _resnet((16, 112, 112), stem)
    return d + 512 * 25, v + 512 * 25  # + both heads
  if name == 'm3dfel':
    stem = ((3, 7, 7), (1, 2, 2), (1, 3, 3))
    d, v = _resnet((4, 112, 112), stem)
    hidden, steps = 512, 4
    lstm = 2 * steps * 4 * hidden * ((512 + hidden) + (2 * hidden + hidden))
    rest = lstm + 4 * 1024 * 3072 + 2 * 4 * 4 * 1024 + 1024 * 4 * 3
    rest += 1024 * 25
    return 4 * d + rest, 4 * v + rest
  stem = ((7, 7), (2, 2), (3, 3))

  def spatial(tokens, dim):
    return _transformer(tokens, dim, 256, 512, 1)

  d, v = _resnet((112, 112), stem, after_stage=spatial)
  rest = _transformer(17, 512, 512, 1024, 3) + 512 * 25
  return 16 * d + rest, 16 * v + rest


@pytest.mark.parametrize('name', CNN_MODELS)
def test_flops(name):
  dense, valid = _macs(name)
  # The per-layer count reproduces the reference GMACs...
  assert dense / 1e9 == pytest.approx(REFERENCE_GMACS[name], rel=0.01)
  # ...and XLA's count of our model matches its valid-tap version.
  model = models.create(name, 7, rngs=nnx.Rngs(0))
  model.eval()
  graphdef, state = nnx.split(model)
  video = jax.ShapeDtypeStruct((1, *models.input_shape(name)), jnp.float32)
  compiled = (
    jax.jit(lambda s, v: nnx.merge(graphdef, s)(v))
    .lower(state, video)
    .compile()
  )
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, list) else cost
  assert cost['flops'] / 2 == pytest.approx(valid, rel=0.01)


# --- Tiny variants -----------------------------------------------------------
TINY = [f'{n}_tiny' for n in CNN_MODELS]


@pytest.mark.parametrize('name', TINY)
def test_tiny_forward_backward(name):
  model = models.create(name, 7, rngs=nnx.Rngs(0))
  model.train()
  rng = np.random.default_rng(0)
  video = jnp.asarray(rng.normal(size=(8, *models.input_shape(name))))
  labels = jnp.asarray(rng.integers(0, 7, size=8))
  before = nnx.state(model, nnx.BatchStat)
  before = jax.tree.map(np.array, before)

  @nnx.jit
  def grads(model, video):
    def loss_fn(model):
      expr, au = model(video)
      onehot = jax.nn.one_hot(labels, 7)
      return -(onehot * jax.nn.log_softmax(expr)).sum() + au.mean()

    return nnx.grad(loss_fn)(model)

  g = grads(model, video)
  leaves = jax.tree.leaves(g)
  assert leaves and all(bool(jnp.isfinite(x).all()) for x in leaves)
  # Every parameter (incl. the AU head) gets a gradient signal.
  assert all(float(jnp.abs(x).max()) > 0 for x in leaves)
  # Train mode updated the BatchNorm running statistics.
  after = nnx.state(model, nnx.BatchStat)
  assert any(
    not np.allclose(a, b)
    for a, b in zip(
      jax.tree.leaves(after), jax.tree.leaves(before), strict=True
    )
  )


@pytest.mark.parametrize('name', TINY)
def test_tiny_batch_one_and_bfloat16(name):
  model = models.create(name, 5, rngs=nnx.Rngs(0), dtype=jnp.bfloat16)
  model.eval()
  params = jax.tree.leaves(nnx.state(model, nnx.Param))
  assert {p.dtype for p in params} == {jnp.dtype(jnp.float32)}
  video = jnp.ones((1, *models.input_shape(name)), jnp.float32)
  expr, au, feature = nnx.jit(lambda m, v: m(v, return_feature=True))(
    model, video
  )
  assert expr.shape == (1, 5) and au.shape == (1, 18)
  assert expr.dtype == au.dtype == feature.dtype == jnp.bfloat16


@pytest.mark.parametrize('name', ['m3dfel_tiny', 'former_dfer_tiny'])
def test_wrong_frame_count_is_rejected(name):
  model = _abstract(name)
  t, h, w, c = models.input_shape(name)
  video = jax.ShapeDtypeStruct((1, t + 2, h, w, c), jnp.float32)
  with pytest.raises(ValueError, match=f'must have {t} frames'):
    _eval_forward(model, video)


@pytest.mark.parametrize(
  'ndim,batch,unbiased',
  [(3, 1, True), (3, 4, True), (2, 2, True), (3, 1, False)],
)
def test_batchnorm_running_statistics_follow_pytorch(ndim, batch, unbiased):
  import torch

  channels, spatial = 8, (3, 4, 5)[-ndim:]
  bn = resnet.batch_norm(
    channels,
    dtype=jnp.float32,
    rngs=nnx.Rngs(0),
    unbiased_running_var=unbiased,
  )
  torch_bn = {2: torch.nn.BatchNorm2d, 3: torch.nn.BatchNorm3d}[ndim](channels)
  forward = nnx.jit(lambda bn, x: bn(x, use_running_average=False))
  rng = np.random.default_rng(0)
  for _ in range(5):  # train-mode steps on inputs of changing statistics
    x = rng.normal(rng.uniform(-1, 1), rng.uniform(0.5, 2), size=(batch,
                   *spatial, channels)).astype(np.float32)  # fmt: skip
    y = forward(bn, jnp.asarray(x))
    torch_y = torch_bn(torch.from_numpy(np.moveaxis(x, -1, 1))).detach()
    np.testing.assert_allclose(
      y, np.moveaxis(torch_y.numpy(), 1, -1), atol=1e-5
    )
  np.testing.assert_allclose(
    bn.mean[...], torch_bn.running_mean.numpy(), rtol=1e-6, atol=1e-6
  )
  # PyTorch updates the running variance with the unbiased batch variance:
  # n = batch * prod(spatial) elements per channel, a factor n / (n - 1).
  close = np.allclose(
    bn.var[...], torch_bn.running_var.numpy(), rtol=1e-6, atol=1e-6
  )
  assert close == unbiased
