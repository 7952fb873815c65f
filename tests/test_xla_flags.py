"""The XLA start-up flags (audfer_jax.process.xla_flags)."""

import os
import sys

import numpy as np
import pytest
import repo_command
import torch

from audfer_jax.process import xla_flags


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
from audfer_jax.process import xla_flags
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
  repo_command.run([sys.executable, '-c', f'OUT = {out!r}' + _CONV_CHECK])
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
