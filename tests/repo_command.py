"""Runs the repository's commands in subprocesses, as a user would."""

import os
import subprocess

import cli_checks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(argv, env=None):
  """Runs `argv` from the repo root on one CPU device; returns stdout."""
  env = dict(os.environ, **(env or {}))
  # One device: the default, unlike the 8 the tests simulate (conftest.py).
  env.pop('JAX_NUM_CPU_DEVICES', None)
  # gpu_check's CPU path takes about 4 min on a busy 2-core machine.
  out = subprocess.run(
    argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
  )
  assert out.returncode == 0, out.stderr[-3000:]
  return out.stdout


def run_light(target, *args, blocked=('jax', 'tensorflow')):
  """`cli_checks.run_light` from the repo root."""
  return cli_checks.run_light(target, *args, cwd=ROOT, blocked=blocked)
