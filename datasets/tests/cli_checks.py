"""Runs a command line as a user would, with heavy imports blocked, and
checks its usage errors."""

import re
import subprocess
import sys


def run_light(target, *args, cwd, blocked=('jax', 'tensorflow')):
  """Runs a CLI (a `.py` script or a `-m` module name) with `args` from
  `cwd`, where importing any of `blocked` fails, so its checks must come
  first."""
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
    [sys.executable, '-c', code], cwd=cwd, capture_output=True, text=True
  )


def assert_one_line_error(out, pattern):
  """A user error: exit code 2 and one `error: ...` line matching `pattern`."""
  assert out.returncode == 2, out.stderr
  assert out.stderr.count('\n') == 1, out.stderr
  assert re.match('error: ', out.stderr), out.stderr
  assert re.search(pattern, out.stderr), out.stderr
