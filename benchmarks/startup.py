"""Start-up time of a training run: from the command to the first step.

  python -m benchmarks.startup [--config configs/demo.py] [--runs 3]
      [--data_dir DIR] [--cache_dir DIR] [--out benchmarks/results/startup.json]

Runs `run.py` as a user would, in a fresh workdir, and times the lines it
logs as seen from outside (so Python's and the libraries' start-up count):
TensorFlow and JAX imported (`JAX process ...`), data ready, model built,
first train step done (compiled and run); then stops the run. The first run
on an empty `--data_dir` also prepares the dataset; later runs find it.
Likewise JAX's persistent compilation cache (`audfer_jax/process/runtime.py`): the
first run on an empty `--cache_dir` compiles everything ('cold'), later
runs load what the cache could keep ('warm'). The machine's load (1-minute
load average) is recorded before each run.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

from benchmarks import common

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (phase, the text of run.py's log line that ends it).
PHASES = (
  ('imports_s', 'JAX process '),
  ('data_ready_s', 'Data ready: '),
  ('model_built_s', 'Model built ('),
  ('step_compiled_s', 'Training steps '),
  ('first_step_s', 'First step done ('),
)


def time_run(config, data_dir, cache_dir, workdir):
  """{phase: seconds since the command started} of one run.py start-up."""
  argv = [
    sys.executable,
    os.path.join(ROOT, 'run.py'),
    '--config',
    config,
    '--workdir',
    workdir,
    f'--config.data_dir={data_dir}',
  ]
  env = dict(
    os.environ, PYTHONUNBUFFERED='1', JAX_COMPILATION_CACHE_DIR=cache_dir
  )
  start = time.perf_counter()
  proc = subprocess.Popen(
    argv, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
  )
  times, tail = {}, []
  try:
    for line in proc.stderr:
      tail = (tail + [line])[-20:]
      for phase, text in PHASES:
        if phase not in times and text in line:
          times[phase] = time.perf_counter() - start
      if 'first_step_s' in times:
        break
  finally:
    proc.kill()
    proc.wait()
  if 'first_step_s' not in times:
    raise RuntimeError(
      f'run.py stopped before its first step:\n{"".join(tail)}'
    )
  return times


def _has_entries(directory):
  return os.path.isdir(directory) and bool(os.listdir(directory))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--config', default='configs/demo.py')
  parser.add_argument('--runs', type=int, default=3)
  parser.add_argument(
    '--data_dir', default='', help='default: a new temporary directory'
  )
  parser.add_argument(
    '--cache_dir',
    default='',
    help='JAX compilation cache; default: a new temporary directory',
  )
  parser.add_argument('--out', default='', help='JSON results file')
  args = parser.parse_args()
  rows = []
  with tempfile.TemporaryDirectory() as tmp:
    data_dir = args.data_dir or os.path.join(tmp, 'tfds')
    cache_dir = args.cache_dir or os.path.join(tmp, 'jax_cache')
    for i in range(args.runs):
      row = {
        'run': i + 1,
        'load_avg_1m': os.getloadavg()[0],
        'cache': 'warm' if _has_entries(cache_dir) else 'cold',
      }
      row.update(
        time_run(args.config, data_dir, cache_dir, os.path.join(tmp, f'w{i}'))
      )
      rows.append(row)
      print(common.format_table([row], list(row)), flush=True)
  columns = ['run', 'load_avg_1m', 'cache', *(p for p, _ in PHASES)]
  print(common.format_table(rows, columns))
  if args.out:
    common.write_json(
      args.out,
      {'machine': common.machine(), 'config': args.config, 'results': rows},
    )


if __name__ == '__main__':
  main()
