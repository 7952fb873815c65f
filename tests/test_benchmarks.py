"""The XLA start-up flags and the train-step benchmark harness."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # benchmarks/ is not an installed package

from audfer_jax import xla_flags  # noqa: E402
from audfer_jax.models import conv_grads  # noqa: E402
from benchmarks import common  # noqa: E402


def _run(argv, env=None):
  """Runs `argv` from the repo root on one CPU device; returns stdout."""
  env = dict(os.environ, **(env or {}))
  env.pop('JAX_NUM_CPU_DEVICES', None)
  out = subprocess.run(
    argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
  )
  assert out.returncode == 0, out.stderr[-3000:]
  return out.stdout


def test_merge_keeps_the_first_value_of_each_flag():
  merged = xla_flags.merge('--a=1 --c', '--a=2 --b=3', '--b=4 --d=')
  assert merged.split() == ['--a=1', '--c', '--b=3', '--d=']


def test_configure_adds_the_preset_after_the_users_flags(monkeypatch):
  monkeypatch.setattr(xla_flags, '_backend_started', lambda: False)
  monkeypatch.setenv(
    'XLA_FLAGS', '--xla_cpu_experimental_onednn_custom_call=false'
  )
  monkeypatch.setenv('AUDFER_XLA_FLAGS', '--xla_gpu_foo=1')
  flags = xla_flags.configure()
  assert flags.split() == [
    '--xla_cpu_experimental_onednn_custom_call=false',
    '--xla_gpu_foo=1',
  ]
  assert os.environ['XLA_FLAGS'] == flags
  monkeypatch.setenv('XLA_FLAGS', '')
  assert xla_flags.configure('none', '--x=1') == '--x=1'
  monkeypatch.setenv('XLA_FLAGS', '')
  assert xla_flags.configure('default') == (
    '--xla_gpu_foo=1 --xla_cpu_experimental_onednn_custom_call=true'
  )


def test_configure_rejects_unknown_presets_and_late_calls(monkeypatch):
  monkeypatch.setattr(xla_flags, '_backend_started', lambda: False)
  with pytest.raises(ValueError, match="preset 'fast' is unknown"):
    xla_flags.configure('fast')
  monkeypatch.setattr(xla_flags, '_backend_started', lambda: True)
  with pytest.raises(RuntimeError, match='after a JAX backend started'):
    xla_flags.configure()


_CONV_CHECK = """
from audfer_jax import xla_flags
xla_flags.configure()
import jax, jax.numpy as jnp, numpy as np
x = np.random.default_rng(0).standard_normal((2, 4, 9, 9, 3), np.float32)
w = np.random.default_rng(1).standard_normal((3, 3, 3, 3, 5), np.float32)
def loss(x, w):
  y = jax.lax.conv_general_dilated(
    x, w, (1, 1, 1), [(1, 1)] * 3,
    dimension_numbers=('NDHWC', 'DHWIO', 'NDHWC'))
  return jnp.sum(y * y)
grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
hlo = grad.lower(x, w).compile().as_text()
(value, (gx, gw)) = grad(x, w)
np.savez(OUT, value=value, gx=gx, gw=gw, onednn=hlo.count('__onednn$convolution'))
"""


def test_cpu_preset_runs_convolutions_in_onednn_with_correct_gradients(
  tmp_path,
):
  out = str(tmp_path / 'conv.npz')
  _run([sys.executable, '-c', f'OUT = {out!r}' + _CONV_CHECK])
  got = np.load(out)
  assert got['onednn'] == 3  # forward, input and filter gradients
  x = torch.tensor(
    np.random.default_rng(0).standard_normal((2, 4, 9, 9, 3), np.float32)
  ).requires_grad_()
  w = torch.tensor(
    np.random.default_rng(1).standard_normal((3, 3, 3, 3, 5), np.float32)
  ).requires_grad_()
  y = torch.nn.functional.conv3d(
    x.permute(0, 4, 1, 2, 3), w.permute(4, 3, 0, 1, 2), None, 1, 1
  )
  loss = (y * y).sum()
  loss.backward()
  np.testing.assert_allclose(got['value'], loss.item(), rtol=1e-4)
  gx = x.grad.numpy()
  np.testing.assert_allclose(got['gx'], gx, rtol=1e-4, atol=1e-3)
  np.testing.assert_allclose(got['gw'], w.grad.numpy(), rtol=1e-4, atol=1e-3)


def test_train_step_benchmark_reports_consistent_numbers(tmp_path):
  out = tmp_path / 'results.json'
  stdout = _run(
    [sys.executable, '-m', 'benchmarks.train_step', '--models', 'r3d_18']
    + ['--size', 'tiny', '--batch_size', '2', '--steps', '3', '--warmup']
    + ['0', '--budget_s', '60', '--out', str(out)]
  )
  row = json.loads(out.read_text())['results'][0]
  assert 'error' not in row, row
  assert row['model'] in stdout
  jax_r, torch_r = row['jax'], row['torch']
  assert len(jax_r['train_times']) == len(torch_r['train_times']) == 3
  for r in (jax_r, torch_r):
    assert r['train_clips_s'] == pytest.approx(2 / np.median(r['train_times']))
    assert r['host_peak_mb'] > 0
  assert row['train_ratio'] == pytest.approx(
    jax_r['train_clips_s'] / torch_r['train_clips_s']
  )
  # The registry's r3d_18_tiny and the torch reference are the same net.
  assert jax_r['params'] == torch_r['params']
  # Forward + backward of a conv net costs about 3x its forward.
  assert 2.5 < jax_r['flops_per_step'] / jax_r['forward_flops'] < 3.5


def test_format_table_leaves_out_empty_columns():
  table = common.format_table(
    [{'a': 1.23456, 'b': None}, {'a': 12345.6, 'b': None}], ['a', 'b']
  )
  assert table.splitlines() == ['    a', ' 1.23', '12346']


@pytest.mark.parametrize(
  'shape, kernel, strides, padding',
  [
    ((2, 5, 9, 8, 3), (3, 3, 3, 3, 4), (2, 2, 2), ((1, 1),) * 3),
    ((1, 4, 11, 11, 2), (3, 7, 7, 2, 3), (1, 2, 2), ((1, 1), (3, 3), (3, 3))),
    ((2, 9, 10, 3), (1, 1, 3, 5), (2, 2), ((0, 0), (0, 0))),
    # Stride 1, clips of PER_CLIP_MIN_POSITIONS: weight gradients per clip.
    ((3, 4, 50, 50, 2), (3, 3, 3, 2, 3), (1, 1, 1), ((1, 1),) * 3),
  ],
)
def test_conv_gradients_match_lax_without_lhs_dilation(
  shape, kernel, strides, padding
):
  rng = np.random.default_rng(0)
  x = rng.standard_normal(shape, np.float32)
  w = rng.standard_normal(kernel, np.float32)
  dn = conv_grads._channels_last(len(shape))

  def loss(conv):
    return lambda x, w: jnp.sum(jnp.sin(conv(x, w)))

  def lax_conv(x, w):
    return jax.lax.conv_general_dilated(
      x, w, strides, padding, dimension_numbers=dn
    )

  def new_conv(x, w):
    return conv_grads.conv_general_dilated(
      x,
      w,
      strides,
      padding,
      (1,) * len(strides),
      None,
      jax.lax.conv_dimension_numbers(x.shape, w.shape, dn),
    )

  want = jax.grad(loss(lax_conv), argnums=(0, 1))(x, w)
  new_grad = jax.jit(jax.grad(loss(new_conv), argnums=(0, 1)))
  got = new_grad(x, w)
  for g, r in zip(got, want, strict=True):
    np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)
  # No convolution with zeros between the inputs is left for XLA:CPU's
  # slow native emitter.
  hlo = new_grad.lower(x, w).compile().as_text()
  assert 'lhs_dilate' not in hlo
  per_clip = strides == (1, 1, 1)
  assert conv_grads._weight_grad_per_clip(shape, strides) == per_clip
  if per_clip:  # one weight-gradient convolution per clip
    assert hlo.count(f'f32[1,{",".join(map(str, shape[1:]))}]') >= shape[0]
