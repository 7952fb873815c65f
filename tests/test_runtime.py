"""JAX's compilation cache as the commands start it (audfer_jax.process.runtime)."""

from importlib import metadata
import os
import subprocess
import sys

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Two programs compiled and cached; `BLOCK` makes a package unimportable
# first, as in an environment that does not have it.
SCRIPT = """
import sys
for name in sys.argv[1:]:
  sys.modules[name] = None
from audfer_jax.process import runtime
jax = runtime.start('none')
jax.config.update('jax_persistent_cache_min_compile_time_secs', 0)
x = jax.numpy.ones((16, 16))
jax.jit(lambda x: jax.numpy.sin(x) @ x)(x).block_until_ready()
jax.jit(lambda x: jax.numpy.cos(x) @ x)(x).block_until_ready()
"""


def _start(cache_dir, *blocked):
  env = dict(
    os.environ,
    JAX_COMPILATION_CACHE_DIR=str(cache_dir),
    PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, 'datasets')]),
  )
  env.pop('JAX_ENABLE_COMPILATION_CACHE', None)
  out = subprocess.run(
    [sys.executable, '-c', SCRIPT, *blocked],
    env=env,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert out.returncode == 0, out.stderr[-3000:]
  lines = out.stderr.splitlines()
  return [line for line in lines if 'compilation cache' in line]


def test_the_cache_keeps_the_programs_without_a_word(tmp_path):
  assert _start(tmp_path) == []
  assert len(os.listdir(tmp_path)) >= 2  # an entry (and its time) a program


def test_a_failing_cache_says_so_once_with_what_to_do(tmp_path):
  # JAX's cache needs filelock for its maximum size: without it, every
  # program fails to be cached (JAX warns once a program).
  lines = _start(tmp_path, 'filelock')
  assert len(lines) == 1, lines
  assert lines[0].endswith(
    f'The compilation cache in {tmp_path} failed (RuntimeError: Please '
    'install the `filelock` package to set `jax_compilation_cache_max_size`): '
    'compiled programs are not kept for the next run; install the filelock '
    'package (pip install filelock).'
  ), lines
  assert os.listdir(tmp_path) == []


def _requirement_closure(*roots):
  """The distributions `pip install -e ./datasets -e .` (the README's
  install, no extras) brings: the roots and their requirements, without
  the requirements that only an extra asks for."""
  wanted, closure = [(root, frozenset()) for root in roots], set()
  while wanted:
    name, extras = wanted.pop()
    key = (canonicalize_name(name), extras)
    if key in closure:
      continue
    closure.add(key)
    for line in metadata.distribution(name).requires or ():
      requirement = Requirement(line)
      marker = requirement.marker
      if marker is None or any(
        marker.evaluate({'extra': extra}) for extra in extras | {''}
      ):
        wanted.append((requirement.name, frozenset(requirement.extras)))
  return {name for name, _ in closure}


def _top_level_modules(distribution):
  """The importable top-level names that a distribution's files provide."""
  names = set()
  for path in distribution.files or ():
    first = path.parts[0]
    if len(path.parts) > 1 and first.isidentifier():
      names.add(first)  # a package directory
    elif first.endswith(('.py', '.so')):
      names.add(first.split('.')[0])
  return names


def test_the_cache_works_with_only_the_readme_install(tmp_path):
  # The test extra brings packages (torch, pytest, ...) that the README's
  # install lacks, and the cache once worked only thanks to one of them
  # (filelock, through torch). Start with every package outside the
  # README install's requirements made unimportable.
  closure = _requirement_closure('audfer-jax', 'dfer-datasets')
  assert {'filelock', 'jax', 'tensorflow-cpu'} <= closure
  kept, blocked = set(), set()
  for distribution in metadata.distributions():
    name = canonicalize_name(distribution.metadata['Name'])
    modules = _top_level_modules(distribution)
    (kept if name in closure else blocked).update(modules)
  blocked -= kept
  assert {'torch', 'pytest'} <= blocked
  assert _start(tmp_path, *sorted(blocked)) == []
  assert len(os.listdir(tmp_path)) >= 2
