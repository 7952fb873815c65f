"""docs/recipes.md states the paper configs' values: the tables and the
configs agree, every paper config has a table, and batch 96 gives
MAE-DFER's own DFEW schedule."""

import ast
import importlib
import math
import operator
import os
import re

from absl import flags
from ml_collections import config_flags
import numpy as np
import pytest

from audfer_jax.training import optim

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, 'docs', 'recipes.md')
PAPER_CONFIGS = sorted(
  f'{d}_{m}'
  for d in ('dfew', 'ferv39k', 'mafw', 'mafw11')
  for m in ('m3dfel', 'former', 'mae')
)
# Configs with a table besides the paper configs (which must have one).
OTHER_CONFIGS = ('pretrain_mae_dfer',)
# `field` = value, the value up to the next ', `' or the end of the cell
# (text in parentheses after the value is a comment).
_ENTRY = re.compile(r'`([a-z_][a-z0-9_.]*)` = (.+?)(?=, `|$)')
_OPS = {
  ast.Add: operator.add,
  ast.Sub: operator.sub,
  ast.Mult: operator.mul,
  ast.Div: operator.truediv,
}


def _value(text):
  """A Python literal with + - * / between numbers; no names, no calls."""

  def ev(node):
    if isinstance(node, ast.Constant):
      return node.value
    if isinstance(node, ast.Tuple | ast.List):
      return tuple(ev(e) for e in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
      return -ev(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
      return _OPS[type(node.op)](ev(node.left), ev(node.right))
    raise ValueError(f'not a literal: {ast.dump(node)}')

  return ev(ast.parse(text.strip(), mode='eval').body)


def _strip_comment(text):
  """'0.25 (MAFW: below)' -> '0.25': drops a trailing parenthesised note."""
  text = text.strip()
  depth, end = 0, len(text)
  for i, c in enumerate(text):
    if c in '([':
      if depth == 0 and c == '(' and i > 0 and text[i - 1] == ' ':
        end = i
        break
      depth += 1
    elif c in ')]':
      depth -= 1
  return text[:end].strip()


def parse_tables(path=DOC):
  """[(configs, [(choice, {field: value})])] of every `Configs:` table."""
  tables, configs, rows, column = [], None, None, None
  with open(path) as f:
    lines = f.read().splitlines()
  for line in lines + ['']:
    if line.startswith('Configs:'):
      configs = re.findall(r'`([a-z0-9_]+)`', line)
      continue
    if line.startswith('|') and configs is not None:
      cells = [c.strip() for c in line.strip().strip('|').split('|')]
      if rows is None:
        column = cells.index('project')
        rows = []
      elif not set(''.join(cells)) <= set('-: '):
        fields = {}
        for name, text in _ENTRY.findall(cells[column]):
          fields[name] = _value(_strip_comment(text))
        rows.append((cells[0], fields))
      continue
    if rows is not None:
      tables.append((configs, rows))
      configs, rows = None, None
  return tables


def _field(config, dotted):
  for part in dotted.split('.'):
    if part not in config:
      raise KeyError(dotted)
    config = config[part]
  return config


def _same(actual, expected):
  if isinstance(actual, list | tuple):
    return (
      isinstance(expected, tuple)
      and len(actual) == len(expected)
      and all(_same(a, e) for a, e in zip(actual, expected, strict=True))
    )
  if isinstance(actual, bool) or isinstance(expected, bool):
    return actual is expected
  if isinstance(actual, int | float) and isinstance(expected, int | float):
    return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=0.0)
  return type(actual) is type(expected) and actual == expected


def check(tables, load):
  """The disagreements between the tables and the configs `load` gives.

  A config's later table (its dataset's) overrides an entry of an earlier
  one (its model's) for the same field, as the dataset file overrides the
  model's recipe.
  """
  errors, stated = [], {}
  for configs, rows in tables:
    for name in configs:
      if name not in [*PAPER_CONFIGS, *OTHER_CONFIGS]:
        errors.append(f'table names {name}, not a paper config')
        continue
      for choice, fields in rows:
        for field, expected in fields.items():
          stated.setdefault(name, {})[field] = (choice, expected)
  for name in [*PAPER_CONFIGS, *OTHER_CONFIGS]:
    if name not in stated:
      errors.append(f'configs/{name}.py has no table in docs/recipes.md')
      continue
    config = load(name)
    for field, (choice, expected) in stated[name].items():
      try:
        actual = _field(config, field)
      except KeyError:
        errors.append(f'{name}: {choice}: no field {field}')
        continue
      if not _same(actual, expected):
        errors.append(
          f'{name}: {choice}: {field} is {actual!r}, the table says '
          f'{expected!r}'
        )
  return errors


def load_config(name):
  return importlib.import_module(f'configs.{name}').get_config()


def test_paper_configs_are_the_files():
  files = {
    f[:-3]
    for f in os.listdir(os.path.join(ROOT, 'configs'))
    if re.fullmatch(r'(dfew|ferv39k|mafw|mafw11)_[a-z0-9]+\.py', f)
  }
  assert files == set(PAPER_CONFIGS)


def test_tables_agree_with_the_configs():
  tables = parse_tables()
  # Every config has its model's table and its dataset's table.
  for name in PAPER_CONFIGS:
    assert sum(name in c for c, _ in tables) >= 2, name
  n = sum(len(f) for _, rows in tables for _, f in rows)
  assert n > 150, n  # the checked entries were parsed
  assert check(tables, load_config) == []


def test_a_changed_config_value_fails():
  tables = parse_tables()

  def changed(name):
    config = load_config(name)
    if name == 'dfew_mae':
      config.learning_rate = 2e-3
      config.augment.mixup = 0.5
    return config

  assert sorted(check(tables, changed)) == [
    'dfew_mae: learning rate and scaling: learning_rate is 0.002, the '
    'table says 0.001',
    'dfew_mae: mixup / cutmix: augment.mixup is 0.5, the table says 0.8',
  ]


def test_a_missing_table_or_field_fails(tmp_path):
  doc = tmp_path / 'recipes.md'
  doc.write_text(
    'Configs: `dfew_m3dfel`\n\n'
    '| choice | upstream | source | project | same? |\n'
    '|---|---|---|---|---|\n'
    '| lr | 5e-4 | x | `learning_rate` = 5e-4 | same |\n'
    '| typo | 1 | x | `learning_rte` = 5e-4 | same |\n'
  )
  errors = check(parse_tables(str(doc)), load_config)
  assert 'dfew_m3dfel: typo: no field learning_rte' in errors
  assert 'configs/dfew_former.py has no table in docs/recipes.md' in errors
  assert (
    'configs/pretrain_mae_dfer.py has no table in docs/recipes.md' in errors
  )
  assert len(errors) == 1 + len(PAPER_CONFIGS) - 1 + len(OTHER_CONFIGS)


# The epoch behind each model's published numbers and where the upstream
# code selects it (docs/recipes.md, "reported epoch"): AU-DFER's
# M3DFEL_AU and Former-DFER_AU keep the epoch with the best WAR + UAR on the
# test split; MAE-DFER's `main`, which AU-DFER's MAE-DFER_AU scripts run,
# tests and reports the model after the last epoch.
REPORTED_EPOCH = {
  'm3dfel': ('best', ['`solver_with_AU_weighted.py` `Solver.run`']),
  'former': ('best', ['`main_*.py` `main`']),
  'mae': (
    'final',
    [
      '`run_class_finetuning.py` `main`',
      '`MAE-DFER_AU/engine_for_finetuning.py` `final_test`, `merge`',
    ],
  ),
}


@pytest.mark.parametrize('name', PAPER_CONFIGS)
def test_reported_epoch_is_the_upstream_selection(name):
  expected, _ = REPORTED_EPOCH[name.split('_')[1]]
  assert load_config(name).reported_epoch == expected


def test_reported_epoch_rows_cite_the_selecting_code():
  with open(DOC) as f:
    rows = [line for line in f if line.startswith('| reported epoch |')]
  assert len(rows) == 3  # one per model table, in the doc's order
  for row, (expected, sources) in zip(
    rows, [REPORTED_EPOCH[m] for m in ('m3dfel', 'former', 'mae')], strict=True
  ):
    source = row.split(' | ')[2]
    assert all(s in source for s in sources), (source, sources)
    assert f"`reported_epoch` = '{expected}'" in row


def test_values_parse():
  assert _value(_strip_comment('(3 / 4, 4 / 3)')) == (0.75, 4 / 3)
  assert _value(_strip_comment("'kinetics400'")) == 'kinetics400'
  assert _value(_strip_comment("-1 (the model's 16)")) == -1
  assert _value(_strip_comment("'' (counted on the training split)")) == ''


def _mae_dfer_lr(step, batch, steps_per_epoch, epochs=100):
  """MAE-DFER's lr at `step`, written out from `run_class_finetuning.py`
  (lr, warmup_lr and min_lr times batch / 256) and `utils.py`
  `cosine_scheduler` (np.linspace warmup, then a cosine over the rest)."""
  scale = batch / 256
  base, start, final = 1e-3 * scale, 1e-6 * scale, 1e-6 * scale
  warmup = 5 * steps_per_epoch
  total = epochs * steps_per_epoch
  if step < warmup:
    return start + (base - start) * step / (warmup - 1)  # linspace
  i = step - warmup
  return final + 0.5 * (base - final) * (
    1 + math.cos(math.pi * i / (total - warmup))
  )


@pytest.mark.parametrize('batch', [32, 96])
def test_batch_96_gives_mae_dfer_schedule(batch):
  config = load_config('dfew_mae')
  config.batch_size = config.eval_batch_size = batch
  train_clips = 9356  # DFEW fold 1's training split
  per_epoch = train_clips // batch  # drop_last, as upstream
  total = config.num_epochs * per_epoch
  schedule = optim.create_schedule(config, per_epoch, total)
  peak = {32: 1.25e-4, 96: 3.75e-4}[batch]
  assert math.isclose(optim.peak_learning_rate(config), peak, rel_tol=1e-12)
  warmup = 5 * per_epoch
  if batch == 96:
    assert warmup == 485  # MAE-DFER's DFEW log: 5 warmup epochs of 97 steps
  assert math.isclose(float(schedule(0)), 1e-6 * batch / 256, rel_tol=1e-5)
  # After the warmup both are the same cosine, to float32 precision.
  for step in (warmup, warmup + 1, total // 2, total - 100, total - 1):
    np.testing.assert_allclose(
      float(schedule(step)), _mae_dfer_lr(step, batch, per_epoch), rtol=1e-5
    )
  # In the warmup the project reaches the peak one step after linspace.
  for step in (1, warmup // 2, warmup - 1):
    ours = float(schedule(step))
    upstream = _mae_dfer_lr(step, batch, per_epoch)
    start = 1e-6 * batch / 256
    np.testing.assert_allclose(
      (ours - start) / (upstream - start), (warmup - 1) / warmup, rtol=1e-5
    )


def test_batch_96_on_the_command_line_gives_mae_dfer_lrs():
  """`--config.batch_size=96` parsed as run.py parses it: MAE-DFER's own
  DFEW peak (1e-3 x 96 / 256), first warmup step and cosine end (1e-6 x 96
  / 256), from `run_class_finetuning.py` `main`."""
  argv = [
    'run.py',
    f'--config={os.path.join(ROOT, "configs", "dfew_mae.py")}',
    '--config.batch_size=96',
    '--config.eval_batch_size=96',
  ]
  values = flags.FlagValues()
  config_flags.DEFINE_config_file('config', flag_values=values, sys_argv=argv)
  values(argv)
  config = values.config
  per_epoch = 9356 // 96  # DFEW fold 1's training clips, last batch dropped
  total = config.num_epochs * per_epoch
  schedule = optim.create_schedule(config, per_epoch, total)
  assert math.isclose(optim.peak_learning_rate(config), 3.75e-4, rel_tol=1e-12)
  np.testing.assert_allclose(float(schedule(0)), 3.75e-7, rtol=1e-5)
  np.testing.assert_allclose(float(schedule(5 * per_epoch)), 3.75e-4, rtol=1e-5)
  np.testing.assert_allclose(float(schedule(total)), 3.75e-7, rtol=1e-5)
