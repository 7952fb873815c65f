"""The train-step benchmark harness (benchmarks/)."""

import json
import sys

import numpy as np
import pytest
import repo_command

from benchmarks import common


def test_train_step_benchmark_reports_consistent_numbers(tmp_path):
  out = tmp_path / 'results.json'
  stdout = repo_command.run(
    [sys.executable, '-m', 'benchmarks.train_step', '--models', 'r3d_18']
    + ['--size', 'tiny', '--batch_size', '2', '--steps', '3', '--warmup']
    + ['0', '--budget_s', '60', '--out', str(out)]
  )
  row = json.loads(out.read_text())['results'][0]
  assert 'error' not in row, row
  assert row['model'] in stdout
  jax_r, torch_r = row['jax'], row['torch']
  assert len(jax_r['train_times']) == len(torch_r['train_times']) == 3
  # Throughput is the batch (2 clips) over the typical (median) timed
  # step, and the ratio JAX over PyTorch: the definitions the README's
  # tables quote.
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
