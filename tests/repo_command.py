"""Runs a command from the repository root on one CPU device."""

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(argv, env=None):
  """Runs `argv` from the repo root on one CPU device; returns stdout."""
  env = dict(os.environ, **(env or {}))
  # One device: the default, unlike the 8 the tests simulate (conftest.py).
  env.pop('JAX_NUM_CPU_DEVICES', None)
  out = subprocess.run(
    argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
  )
  assert out.returncode == 0, out.stderr[-3000:]
  return out.stdout
