"""The train-step benchmark harness (benchmarks/)."""

import json
import os
import subprocess
import sys

import cli_checks
import numpy as np
import pytest
import repo_command

from benchmarks import common

# Modules a GPU host may lack: the JAX side must not need them.
_NOT_ON_GPU_HOSTS = (
  'tensorflow',
  'tensorflow_datasets',
  'clu',
  'tfds_builders',
)


def test_gpu_check_on_the_cpu_reports_consistent_numbers(tmp_path):
  # The GPU script's whole path, on the CPU: backend check, then the
  # train-step benchmark (JAX and PyTorch workers) on one tiny model, then
  # the input pipeline into the step for one recipe.
  repo_command.run(
    [sys.executable, '-m', 'benchmarks.gpu_check', '--out_dir', str(tmp_path)]
    + ['--device', 'cpu', '--size', 'tiny', '--models', 'r3d_18']
    + ['--check_models', 'r3d_18_tiny', '--steps', '3']
    + ['--pipeline_recipes', 'mae_dfer', '--pipeline_batches', '3']
  )
  results = json.loads((tmp_path / 'gpu_check.json').read_text())
  [check] = results['backend_check']
  # CPU against CPU: float32 is the same program (exact); bfloat16 keeps
  # about 3 significant digits, so its logits are off by ~1e-2.
  assert max(check['float32'].values()) < 1e-6
  assert 1e-4 < check['bfloat16']['expr_logits'] < 0.1
  [row] = results['train_step']
  assert 'error' not in row, row
  jax_r, torch_r = row['jax'], row['torch']
  assert jax_r['dtype'] == torch_r['dtype'] == 'float32'  # 'auto' on a CPU
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
  # MAE-DFER's recipe (mixup: soft labels) fed into its tiny model's step,
  # 2 clips a batch (the tiny group's batch), 3 timed batches.
  [fed] = results['pipeline_step']
  assert (fed['recipe'], fed['model'], fed['clip']) == (
    'mae_dfer',
    'mae_dfer_tiny',
    '8x32x32',
  )
  assert (fed['batch_size'], fed['batches']) == (2, 3)
  rates = [fed[k] for k in ('step_clips_per_s', 'pipeline_clips_per_s')]
  assert min(rates) > 0 and fed['fed_clips_per_s'] > 0
  assert fed['limit'] == ('host' if rates[1] < rates[0] else 'step')
  report = (tmp_path / 'gpu_check.md').read_text()
  assert '| r3d_18_tiny | bfloat16 |' in report and 'r3d_18_tiny  ' in report
  # A classifier has logits and no reconstruction (the pre-training
  # model's column); float32 against itself is exact.
  exact = '| 0.0e+00 | 0.0e+00 | - | 0.0e+00 | 0.0e+00 |'
  assert f'| r3d_18_tiny | float32 {exact}' in report
  assert '## Input pipeline into the step' in report
  assert 'mae_dfer_tiny' in report.split('## Input pipeline')[1]


def test_pretraining_step_runs_next_to_the_authors_model(tmp_path):
  # The pre-training model's row: the trainer's pre-training step and the
  # PyTorch re-implementation of the authors' model and step.
  out = tmp_path / 'results.json'
  repo_command.run(
    [sys.executable, '-m', 'benchmarks.train_step', '--out', str(out)]
    + ['--models', 'mae_dfer_pretrain', '--size', 'tiny', '--steps', '2']
    + ['--round', '2', '--warmup', '0']
  )
  [row] = json.loads(out.read_text())['results']
  assert 'error' not in row, row
  jax_r, torch_r = row['jax'], row['torch']
  assert row['model'] == 'mae_dfer_pretrain_tiny'
  # The same net on both sides, of the size the pre-training demo logs
  # (tests/test_mae_pretrain.py converts one into the other tensor by tensor).
  assert jax_r['params'] == torch_r['params'] == 219_424
  assert len(jax_r['train_times']) == len(torch_r['train_times']) == 2
  assert row['train_ratio'] == pytest.approx(
    jax_r['train_clips_s'] / torch_r['train_clips_s']
  )
  # Forward + backward of a transformer costs about 3x its forward (the
  # eval forward sees the same number of visible tokens as the step).
  assert 2.5 < jax_r['flops_per_step'] / jax_r['forward_flops'] < 3.5


def test_without_a_gpu_the_checks_say_so_in_one_line(tmp_path):
  # The backend check imports the trainer's step, models and loss: without
  # the modules a GPU host lacks, it gets as far as looking for the GPU.
  out = repo_command.run_light(
    'benchmarks.backend_check',
    '--models',
    'r3d_18_tiny',
    blocked=_NOT_ON_GPU_HOSTS,
  )
  cli_checks.assert_one_line_error(out, r'no GPU found \(JAX has: cpu\)')
  out = repo_command.run_light(
    'benchmarks.gpu_check',
    '--out_dir',
    str(tmp_path),
    '--check_models',
    'r3d_18_tiny',
    blocked=_NOT_ON_GPU_HOSTS,
  )
  cli_checks.assert_one_line_error(
    out, r'backend check failed: no GPU found \(JAX has: cpu\)'
  )


def test_gpu_check_names_a_missing_package(tmp_path):
  out = repo_command.run_light(
    'benchmarks.gpu_check', '--out_dir', str(tmp_path), blocked=('torch',)
  )
  cli_checks.assert_one_line_error(out, r'torch not installed')


def test_jax_worker_trains_without_tensorflow_or_clu(tmp_path):
  # The worker itself, with the modules a GPU host lacks made unimportable:
  # set up, one timed train step, one forward, its stats.
  data = tmp_path / 'batch.npz'
  np.savez(data, **common.synthetic_batch((8, 32, 32, 3), 2))
  blocked = ''.join(f'sys.modules[{m!r}] = None; ' for m in _NOT_ON_GPU_HOSTS)
  argv = ['train_step', '--worker', 'jax', '--model', 'mae_dfer_tiny']
  argv += ['--data', str(data), '--compute_dtype', 'float32']
  code = (
    f'import runpy, sys; {blocked}sys.argv = {argv!r}; '
    'runpy.run_module("benchmarks.train_step", run_name="__main__")'
  )
  out = subprocess.run(
    [sys.executable, '-c', code],
    cwd=repo_command.ROOT,
    input='train 0 1\neval 0 1\nquit\n',
    capture_output=True,
    text=True,
    env={**os.environ, 'JAX_PLATFORMS': 'cpu', 'JAX_NUM_CPU_DEVICES': '1'},
  )
  assert out.returncode == 0, out.stderr[-3000:]
  replies = [
    json.loads(line.removeprefix('@@bench '))
    for line in out.stdout.splitlines()
  ]
  setup, train, forward, stats = replies
  assert setup['dtype'] == 'float32' and setup['flops_per_step'] > 0
  assert len(train['seconds']) == len(forward['seconds']) == 1
  assert stats['host_peak_mb'] > 0


def test_relative_error():
  # ||(1, 2) - (1, 0)|| / ||(1, 0)|| = 2; ||(3, 4) - (0, 8)|| = 5, / 8.
  assert common.relative_error([1.0, 2.0], [1.0, 0.0]) == 2.0
  assert common.relative_error([3.0, 4.0], [0.0, 8.0]) == 5 / 8
  assert common.relative_error(np.ones((2, 2)), np.ones(4)) == 0.0


def test_format_table_leaves_out_empty_columns():
  table = common.format_table(
    [{'a': 1.23456, 'b': None}, {'a': 12345.6, 'b': None}], ['a', 'b']
  )
  assert table.splitlines() == ['    a', ' 1.23', '12346']


def test_host_cores_per_gpu_is_the_h200_rate_over_a_cores_rate():
  from benchmarks import input_pipeline

  rows = [
    {'recipe': 'm3dfel', 'model': 'm3dfel', 'clips_per_cpu_s': 50.0},
    {'recipe': 'mae_dfer', 'model': 'mae_dfer', 'clips_per_cpu_s': 5.0},
  ]
  input_pipeline.add_h200(rows, {'m3dfel': 171e9}, 0.4)
  # 40 % of 989 TFLOP/s over 171 GFLOP a clip: 2313.45 clips/s; a core
  # delivering 50 clips per CPU-second covers 1/46.27 of it.
  assert rows[0]['h200_clips_per_s'] == pytest.approx(2313.45, abs=0.01)
  assert rows[0]['cores_per_gpu'] == pytest.approx(46.269, abs=0.001)
  assert rows[0]['train_gflop_per_clip'] == pytest.approx(171)
  assert 'cores_per_gpu' not in rows[1]  # no FLOPs for that model


def test_backend_check_masks_the_pretraining_model_with_fixed_tubes():
  # backend_check compares the pre-training loss on both backends with one
  # mask: the same for every draw. The tiny model: 8 x 32 x 32 clips in
  # 2 x 8 x 8 tokens, a 4 x 4 token frame of two 2 x 4 windows, each with
  # int(0.75 * 8) = 6 tokens hidden, the same in all 4 token frames.
  masks, _ = common.pretrain_masks('mae_dfer_pretrain_tiny', 3)
  again, _ = common.pretrain_masks('mae_dfer_pretrain_tiny', 3)
  np.testing.assert_array_equal(masks, again)
  frames = masks.reshape(3, 4, 2, 8)  # clip, token frame, window, token
  assert (frames.sum(axis=-1) == 6).all()
  assert (frames == frames[:, :1]).all()
  assert len({m.tobytes() for m in masks}) == 3  # clips drawn apart


def test_device_augmentation_time_is_its_flops_and_bytes_on_an_h200():
  from benchmarks import input_pipeline

  row = {
    'model': 'm3dfel',
    'clips_per_cpu_s': 50.0,
    'aug_flops_per_clip': 3e8,
    'aug_bytes_per_clip': 4.8e7,
  }
  input_pipeline.add_h200([row], {'m3dfel': 171e9}, 0.4)
  # 48 MB at 4.8 TB/s: 10 us; 0.3 GFLOP at 989 (bf16) or 67 (fp32)
  # TFLOP/s: 0.303 or 4.478 us. The step at 40 % MFU takes 1 / 2313.45 s.
  assert row['aug_us_per_clip_low'] == pytest.approx(10.3033, abs=1e-4)
  assert row['aug_us_per_clip_high'] == pytest.approx(14.4776, abs=1e-4)
  assert row['aug_step_fraction_low'] == pytest.approx(0.023836, abs=1e-6)
  assert row['aug_step_fraction_high'] == pytest.approx(0.033493, abs=1e-6)
