"""The package's layers: no module imports a layer above its own.

The order is the README's Layout: commands (every `__main__.py`) ->
training, experiments, predict -> inference -> data, checkpointing, workdir,
metrics, convert, process -> models, method -> heatmap, progress. A module
may import its own layer or any layer below.
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, 'audfer_jax')

# Lowest first; each entry is a top-level module or subpackage of audfer_jax.
LAYERS = (
  ('heatmap', 'progress'),
  ('models', 'method'),
  ('data', 'checkpointing', 'workdir', 'metrics', 'convert', 'process'),
  ('inference',),
  ('training', 'experiments', 'predict'),
)
COMMANDS = len(LAYERS)  # every __main__.py


def layer_of(module):
  """The layer index of a dotted module name inside audfer_jax."""
  parts = module.split('.')
  if parts[-1] == '__main__':
    return COMMANDS
  for index, members in enumerate(LAYERS):
    if parts[1] in members:
      return index
  raise KeyError(f'{module}: in no layer; add it to LAYERS and the README')


def imported_modules(source):
  """The audfer_jax modules (dotted) that `source` imports, anywhere in it."""
  found = []
  for node in ast.walk(ast.parse(source)):
    if isinstance(node, ast.Import):
      found += [a.name for a in node.names if a.name.startswith('audfer_jax.')]
    elif isinstance(node, ast.ImportFrom) and node.module:
      if node.module == 'audfer_jax':
        found += [f'audfer_jax.{a.name}' for a in node.names]
      elif node.module.startswith('audfer_jax.'):
        found.append(node.module)
  return found


def upward_imports(module, source):
  """(imported, its layer) for each import of `source` above `module`'s."""
  own = layer_of(module)
  return [
    (imported, layer_of(imported))
    for imported in imported_modules(source)
    if layer_of(imported) > own
  ]


def package_modules():
  """(dotted name, path) of every module of audfer_jax but its __init__."""
  for directory, _, files in os.walk(PACKAGE):
    for name in sorted(files):
      if name.endswith('.py') and name != '__init__.py':
        path = os.path.join(directory, name)
        relative = os.path.relpath(path, ROOT)[: -len('.py')]
        yield relative.replace(os.sep, '.'), path


def test_the_check_sees_an_upward_import():
  # models (layer 1) importing the training loop (layer 4), in a function.
  source = 'def f():\n  from audfer_jax.training import train_loop\n'
  assert upward_imports('audfer_jax.models.r3d', source) == [
    ('audfer_jax.training', 4)
  ]
  assert upward_imports('audfer_jax.models.r3d', 'import audfer_jax.inference')
  # The same import from a command, or a sideways one, is allowed.
  assert not upward_imports('audfer_jax.models.__main__', source)
  assert not upward_imports('audfer_jax.predict.model', source)


@pytest.mark.parametrize('module,path', list(package_modules()))
def test_no_module_imports_a_layer_above_its_own(module, path):
  with open(path) as f:
    upward = upward_imports(module, f.read())
  assert not upward, f'{module} (layer {layer_of(module)}) imports {upward}'
