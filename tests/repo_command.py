"""Runs the repository's commands in subprocesses, as a user would."""

import os
import re
import subprocess
import sys

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
  """Runs a CLI (`run.py` or a `-m` module name) with `args` where
  importing any of `blocked` fails, so its checks must come first."""
  if target.endswith('.py'):
    start = f'runpy.run_path({target!r}, run_name="__main__")'
  else:
    start = f'runpy.run_module({target!r}, run_name="__main__")'
  code = (
    'import runpy, sys; '
    + ''.join(f'sys.modules[{name!r}] = None; ' for name in blocked)
    + f'sys.argv = [{target!r}, *{list(args)!r}]; '
    + start
  )
  return subprocess.run(
    [sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True
  )


def assert_one_line_error(out, pattern):
  """A user error: exit code 2 and one `error: ...` line matching `pattern`."""
  assert out.returncode == 2, out.stderr
  assert out.stderr.count('\n') == 1, out.stderr
  assert re.match('error: ', out.stderr), out.stderr
  assert re.search(pattern, out.stderr), out.stderr
