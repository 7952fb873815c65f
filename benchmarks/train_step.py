"""Train-step and forward throughput of every model, JAX next to PyTorch.

  python -m benchmarks.train_step --size tiny --steps 10
  python -m benchmarks.train_step --models r3d_18,mae_dfer --size full
      --batch_size 2 --steps 4 --budget_s 150 --out results.json

For each model, a JAX worker process (the trainer's jitted step: forward,
AU-DFER loss, AdamW update; for a pre-training model, `mae_dfer_pretrain`,
the masked-autoencoder loss of the trainer's pre-training step) and a
PyTorch worker (the parity tests' reference architecture, the same loss and
AdamW) are set up one after the
other (so compile time is not shared with the other), then driven in turns,
A B A B: each turn is `--warmup` untimed steps and then `--round` timed
ones, so that a step never competes with threads the other worker left
spinning. Each process's peak memory is its own. The
report: clips/s (median step), compile time, XLA FLOPs per step, GFLOP/s
and the fraction of the measured float32 matmul peak, host and device
memory, and the JAX / PyTorch throughput ratio. `--ab_args` adds a second
JAX worker with other options (XLA flags, `--lax_conv_grads`) to the
same interleaving, for A/B tests of a change.
"""

import argparse
import os
import shlex
import sys
import tempfile
import time

import numpy as np

from audfer_jax import inference
from audfer_jax import models
from benchmarks import common

BASE_MODELS = (
  'r3d_18',
  'm3dfel',
  'former_dfer',
  'mae_dfer',
  'videomae_vit_b',
  'mae_dfer_pretrain',
)


def _parser():
  p = argparse.ArgumentParser(
    prog='python -m benchmarks.train_step',
    description=__doc__,
    formatter_class=argparse.RawDescriptionHelpFormatter,
  )
  p.add_argument(
    '--models',
    default=','.join(BASE_MODELS),
    help='comma-separated base names (see audfer_jax.models.names()); '
    '--size tiny appends _tiny',
  )
  p.add_argument('--size', choices=('full', 'tiny'), default='tiny')
  p.add_argument('--batch_size', type=int, default=2)
  p.add_argument(
    '--device',
    choices=('cpu', 'gpu'),
    default='cpu',
    help='where both frameworks run: the CPU, or the first GPU (JAX, and '
    'PyTorch on CUDA: cudnn.benchmark, fused AdamW, autocast)',
  )
  p.add_argument(
    '--dtype',
    choices=inference.DTYPES,
    default='auto',
    help="compute dtype (parameters stay float32); 'auto' is the "
    "trainer's: bfloat16 on a GPU, float32 on the CPU",
  )
  p.add_argument(
    '--torch_compile',
    action=argparse.BooleanOptionalAction,
    default=False,
    help='PyTorch: torch.compile the model (default: eager)',
  )
  p.add_argument(
    '--steps', type=int, default=5, help='timed steps per framework'
  )
  p.add_argument(
    '--round',
    type=int,
    default=5,
    help='timed steps in a row per turn; the workers take turns A B A B',
  )
  p.add_argument(
    '--warmup',
    type=int,
    default=1,
    help='untimed steps at the start of each turn: they absorb the threads '
    'the other worker left spinning (OpenMP, XLA) and cold caches',
  )
  p.add_argument(
    '--budget_s',
    type=float,
    default=120.0,
    help='per model: stop timing after this many seconds (>= 2 steps); '
    'a worker silent for 4x this is killed',
  )
  p.add_argument(
    '--torch',
    action=argparse.BooleanOptionalAction,
    default=True,
    help='also run the PyTorch reference',
  )
  p.add_argument(
    '--threads',
    type=int,
    default=0,
    help='CPU cores each worker may use (affinity + torch threads); 0: all',
  )
  p.add_argument(
    '--xla_preset',
    default='default',
    help="audfer_jax.process.xla_flags preset: 'default' (project flags) or "
    "'none' (XLA defaults)",
  )
  p.add_argument(
    '--xla_flags', default='', help='extra XLA flags for the JAX worker'
  )
  p.add_argument(
    '--ab_args',
    default=None,
    help='A/B test: also run a JAX worker "jax_b" with these options added '
    "(e.g. '--xla_preset=none' or '--lax_conv_grads'), interleaved with "
    'the others; the table gets the jax / jax_b ratios',
  )
  p.add_argument(
    '--lax_conv_grads',
    action=argparse.BooleanOptionalAction,
    default=False,
    help="JAX: XLA's own convolution gradients instead of the models' "
    '(audfer_jax/models/conv_grads.py)',
  )
  p.add_argument(
    '--donate',
    action=argparse.BooleanOptionalAction,
    default=True,
    help='donate model/optimizer buffers to the step (as the trainer does)',
  )
  p.add_argument('--out', default='', help='write the results as JSON here')
  p.add_argument('--worker', choices=('jax', 'torch'), help=argparse.SUPPRESS)
  p.add_argument('--compute_dtype', help=argparse.SUPPRESS)
  p.add_argument('--model', help=argparse.SUPPRESS)
  p.add_argument('--data', help=argparse.SUPPRESS)
  return p


def _limit_threads(threads):
  if threads > 0:
    cores = sorted(os.sched_getaffinity(0))[:threads]
    os.sched_setaffinity(0, cores)


def _model_names(args):
  bases = [m.strip() for m in args.models.split(',') if m.strip()]
  return [f'{m}_tiny' if args.size == 'tiny' else m for m in bases]


def _write_data(args, model, path):
  """The synthetic batch, K and pos_weight both workers read; for a
  pre-training model, also masks of its kind and what the PyTorch side's
  targets need of it (`mask`, `patch`, `pixel_mean`, `pixel_std`)."""
  data = common.synthetic_batch(models.input_shape(model), args.batch_size)
  if models.task(model) == 'pretrain':
    data['mask'], shape = common.pretrain_masks(model, args.batch_size)
    data['patch'] = np.asarray(shape.patch_size)
    data['pixel_mean'] = np.asarray(shape.pixel_mean, np.float32)
    data['pixel_std'] = np.asarray(shape.pixel_std, np.float32)
  np.savez(path, **data)


def _worker_argvs(args, model, data):
  """name -> argv of the workers to compare: jax, [torch], [jax_b]."""
  base = [sys.executable, '-m', 'benchmarks.train_step', '--model', model]
  base += ['--data', data, '--dtype', args.dtype, '--device', args.device]
  # Both workers compute in the dtype the trainer picks on this device.
  base += ['--compute_dtype', inference.resolve_dtype(args.dtype, args.device)]
  base += ['--threads', str(args.threads)]
  base += ['--torch_compile' if args.torch_compile else '--no-torch_compile']
  base += ['--donate' if args.donate else '--no-donate']
  if args.lax_conv_grads:
    base += ['--lax_conv_grads']
  jax_argv = base + ['--worker', 'jax', '--xla_preset', args.xla_preset]
  jax_argv += [f'--xla_flags={args.xla_flags}']
  argvs = {'jax': jax_argv}
  if args.torch:
    argvs['torch'] = base + ['--worker', 'torch']
  if args.ab_args is not None:
    argvs['jax_b'] = jax_argv + shlex.split(args.ab_args)
  return argvs


def _bench_model(args, model):
  """Sets up the workers, then times them A B A B; one result row."""
  row = {'model': model, 'batch_size': args.batch_size}
  hard = 4 * args.budget_s
  tmp = tempfile.TemporaryDirectory()
  data = os.path.join(tmp.name, 'batch.npz')
  _write_data(args, model, data)
  workers = {}
  try:
    # One at a time, so that compiling does not compete with the other.
    env = dict(os.environ)
    env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # TensorFlow's start-up notes
    if args.device == 'cpu':
      env['JAX_PLATFORMS'] = 'cpu'
    else:
      # Both workers live on the GPU at once: JAX must not take 75 % of its
      # memory up front, nor PyTorch's caching allocator the rest.
      env.setdefault('XLA_PYTHON_CLIENT_PREALLOCATE', 'false')
    for name, argv in _worker_argvs(args, model, data).items():
      workers[name] = common.Worker(argv, env)
      row[name] = workers[name].read(hard)
    for command in ('train', 'eval'):
      times = {name: [] for name in workers}
      start = time.monotonic()
      while (done := len(times['jax'])) < args.steps:
        if done >= 2 and time.monotonic() - start > args.budget_s:
          row.setdefault('note', f'{command}: {done} steps (budget)')
          break
        ask = f'{command} {args.warmup} {min(args.round, args.steps - done)}'
        for name, w in workers.items():
          times[name] += w.ask(ask, hard)['seconds']
      for name, ts in times.items():
        row[name][f'{command}_times'] = ts
    for name, w in workers.items():
      row[name].update(w.ask('quit', hard))
  except (TimeoutError, RuntimeError) as e:
    row['error'] = str(e)
  finally:
    for w in workers.values():
      w.kill()
    tmp.cleanup()
  return _summarise(row, args.batch_size)


def _summarise(row, batch):
  for name in ('jax', 'torch', 'jax_b'):
    r = row.get(name)
    if not r:
      continue
    for command in ('train', 'eval'):
      times = r.get(f'{command}_times', [])
      r[f'{command}_step_s'] = common.median(times)
      # The fastest step too: a shared machine slows some steps a lot.
      r[f'{command}_best_s'] = min(times, default=float('nan'))
      r[f'{command}_clips_s'] = batch / r[f'{command}_step_s']
  jax_r = row.get('jax', {})
  if 'train_step_s' in jax_r and jax_r.get('flops_per_step'):
    jax_r['gflops_s'] = jax_r['flops_per_step'] / jax_r['train_step_s'] / 1e9
  pairs = (
    ('jax', 'torch', ''),
    ('jax', 'jax_b', 'ab_'),
    ('jax_b', 'torch', 'b_'),
  )
  for a, b, prefix in pairs:
    for command in ('train', 'eval'):
      key = f'{command}_clips_s'
      if key in row.get(a, {}) and key in row.get(b, {}):
        row[f'{prefix}{command}_ratio'] = row[a][key] / row[b][key]
  return row


COLUMNS = (
  'model',
  'batch',
  'dtype',
  'jax train ms',
  'torch train ms',
  'jax train clips/s',
  'torch train clips/s',
  'train jax/torch',
  'jax eval clips/s',
  'torch eval clips/s',
  'eval jax/torch',
  'GFLOP/step',
  'GFLOP/s',
  '% peak',
  'compile s',
  'jax host MiB',
  'torch host MiB',
  'jax device MiB',
  'torch device MiB',
  'torch first step s',
  'jax/jax_b train',
  'jax/jax_b eval',
  'jax_b/torch train',
)


def _ms(seconds):
  return None if seconds is None else 1000 * seconds


def table_row(row):
  j, t = row.get('jax', {}), row.get('torch', {})
  gflops, peak = j.get('gflops_s'), j.get('matmul_peak_gflops')
  return {
    'model': row['model'] + (' (error)' if 'error' in row else ''),
    'batch': row.get('batch_size'),
    'dtype': j.get('dtype'),
    'jax train ms': _ms(j.get('train_step_s')),
    'torch train ms': _ms(t.get('train_step_s')),
    'jax train clips/s': j.get('train_clips_s'),
    'torch train clips/s': t.get('train_clips_s'),
    'train jax/torch': row.get('train_ratio'),
    'jax eval clips/s': j.get('eval_clips_s'),
    'torch eval clips/s': t.get('eval_clips_s'),
    'eval jax/torch': row.get('eval_ratio'),
    'GFLOP/step': j.get('flops_per_step', 0) / 1e9 or None,
    'GFLOP/s': gflops,
    '% peak': 100 * gflops / peak if gflops and peak else None,
    'compile s': j.get('compile_s'),
    'jax host MiB': j.get('host_peak_mb'),
    'torch host MiB': t.get('host_peak_mb'),
    'jax device MiB': j.get('device_peak_mb'),
    'torch device MiB': t.get('device_peak_mb'),
    'torch first step s': t.get('first_step_s'),
    'jax/jax_b train': row.get('ab_train_ratio'),
    'jax/jax_b eval': row.get('ab_eval_ratio'),
    'jax_b/torch train': row.get('b_train_ratio'),
  }


def main(args):
  info = common.machine()
  print(
    f'{info["cpu"]} ({info["cpu_family_model"]}), '
    f'{info["cores_usable"]} cores, load {info["load_avg_1m"]:.2f}',
    flush=True,
  )
  rows = []
  for model in _model_names(args):
    row = _bench_model(args, model)
    rows.append(row)
    if 'error' in row:
      print(f'{model}: {row["error"]}', file=sys.stderr, flush=True)
    print(common.format_table([table_row(row)], COLUMNS), flush=True)
  print()
  print(common.format_table([table_row(r) for r in rows], COLUMNS))
  common.write_json(
    args.out,
    {
      'machine': info,
      'args': vars(args),
      'results': rows,
    },
  )
  return rows


def run_worker(args):
  """Worker: set up, answer 'ready', then serve train/eval/quit commands."""
  reply = common.worker_channel()
  _limit_threads(args.threads)
  try:
    if args.worker == 'jax':
      from audfer_jax.process import xla_flags

      xla_flags.configure(args.xla_preset, args.xla_flags)
      from benchmarks import jax_side as side
    else:
      from benchmarks import torch_side as side
    with np.load(args.data) as f:
      data = dict(f)
    runner = side.Runner(args.model, data, args)
    reply(runner.setup())
    for line in sys.stdin:
      command = line.strip()
      if command == 'quit':
        reply(runner.stats())
        return
      # '<train|eval> <untimed steps> <timed steps>'
      name, untimed, steps = command.split()
      step = {'train': runner.train_step, 'eval': runner.forward}[name]
      for _ in range(int(untimed)):
        step()
      reply({'seconds': [common.timed(step) for _ in range(int(steps))]})
  except Exception as e:
    reply({'error': f'{args.worker} {args.model}: {type(e).__name__}: {e}'})
    raise


if __name__ == '__main__':
  parsed = _parser().parse_args()
  if parsed.worker:
    run_worker(parsed)
  else:
    main(parsed)
