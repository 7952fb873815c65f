"""Shared benchmark helpers: timing, memory, matmul peak, machine, output.

Also the line protocol between the benchmark driver and its worker
processes: a worker answers on its original stdout with lines
`@@bench <json>`; everything libraries print goes to stderr.
"""

import json
import os
import platform
import resource
import select
import statistics
import subprocess
import sys
import time

import numpy as np

from audfer_jax import models

_TAG = '@@bench '
BATCH_KEYS = ('video', 'label', 'au_label', 'au_valid')
# Expressions and AUs of the synthetic batch (DFEW's 7 classes, the models'
# AU heads); not from the dataset package, which no worker needs.
NUM_CLASSES, NUM_AUS = 7, models.NUM_AUS


def timed(fn, *args):
  """Seconds that `fn(*args)` takes; `fn` must block until it is done."""
  start = time.perf_counter()
  fn(*args)
  return time.perf_counter() - start


def median(values):
  return statistics.median(values) if values else float('nan')


def host_peak_mb():
  """Peak resident memory of this process so far (MiB)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def device_peak_mb(device):
  """Peak memory of a JAX device (MiB), or None where it is not tracked."""
  stats = device.memory_stats() if hasattr(device, 'memory_stats') else None
  if not stats or 'peak_bytes_in_use' not in stats:
    return None
  return stats['peak_bytes_in_use'] / 2**20


def matmul_peak_gflops(n=2048, dtype='float32', reps=5):
  """Best GFLOP/s of a jitted n x n x n JAX matmul: the machine's peak.

  On GPUs take n = 8192: a 2048^3 matmul is over in tens of microseconds,
  where launch overhead dominates.
  """
  import jax
  import jax.numpy as jnp

  a = jnp.ones((n, n), dtype)
  b = jnp.ones((n, n), dtype)
  matmul = jax.jit(jnp.matmul)
  matmul(a, b).block_until_ready()
  best = min(
    timed(lambda: matmul(a, b).block_until_ready()) for _ in range(reps)
  )
  return 2 * n**3 / best / 1e9


def synthetic_batch(clip_shape, batch_size, seed=0):
  """Random clips [B, T, H, W, 3] in [0, 1], targets, K and pos_weight.

  K is random in [0, 1]: the step's cost does not depend on its values.
  """
  rng = np.random.default_rng(seed)
  return {
    'video': rng.random((batch_size, *clip_shape), np.float32),
    'label': rng.integers(0, NUM_CLASSES, batch_size).astype(np.int32),
    'au_label': rng.integers(0, 2, (batch_size, NUM_AUS)).astype(np.float32),
    'au_valid': np.ones(batch_size, bool),
    'knowledge': rng.random((NUM_CLASSES, NUM_AUS), np.float32),
    'pos_weight': np.full(NUM_AUS, 2.0, np.float32),
  }


def pretrain_masks(model_name, batch_size):
  """(masks, abstract model) of a pre-training model: masks of its kind
  drawn from the fixed key 0, numpy bool [batch_size, tokens], and the model
  of `nnx.eval_shape` they were drawn with (drawing needs no parameters)."""
  from flax import nnx
  import jax

  shape = nnx.eval_shape(
    lambda: models.create(model_name, None, rngs=nnx.Rngs(0))
  )
  return np.asarray(shape.masks(jax.random.key(0), batch_size)), shape


def relative_error(value, reference):
  """||value - reference|| / ||reference|| over all elements (float64)."""
  value = np.asarray(value, np.float64).ravel()
  reference = np.asarray(reference, np.float64).ravel()
  return float(
    np.linalg.norm(value - reference) / max(np.linalg.norm(reference), 1e-30)
  )


def _cpuinfo():
  info = {}
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        key, _, value = line.partition(':')
        info.setdefault(key.strip(), value.strip())
  except OSError:
    pass
  return info


def machine():
  """CPU model, cores, and the versions that matter for the numbers."""
  cpu = _cpuinfo()
  flags = set(cpu.get('flags', '').split())
  return {
    'cpu': cpu.get('model name', platform.processor()),
    'cpu_family_model': f'{cpu.get("cpu family")}/{cpu.get("model")}',
    'isa': sorted(flags & {'avx2', 'avx512f', 'avx512_bf16', 'amx_bf16'}),
    'cores_usable': len(os.sched_getaffinity(0)),
    'cpu_count': os.cpu_count(),
    'python': platform.python_version(),
    'load_avg_1m': os.getloadavg()[0],
  }


def format_table(rows, columns):
  """A fixed-width text table of `rows` (dicts); empty columns are left out."""

  def cell(v):
    if v is None:
      return '-'
    if isinstance(v, float):
      return f'{v:.3g}' if abs(v) < 1000 else f'{v:.0f}'
    return str(v)

  columns = [c for c in columns if any(r.get(c) is not None for r in rows)]
  cells = [[cell(r.get(c)) for c in columns] for r in rows]
  widths = [
    max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)
  ]
  lines = ['  '.join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
  lines += [
    '  '.join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells
  ]
  return '\n'.join(lines)


def write_json(path, payload):
  if path:
    with open(path, 'w') as f:
      json.dump(payload, f, indent=1)


def _call_into(queue, fn, args):
  try:
    queue.put((True, fn(*args)))
  except Exception as e:
    queue.put((False, f'{type(e).__name__}: {e}'))
    raise


def run_isolated(fn, *args):
  """`fn(*args)` in a fresh (spawned) process; returns its result."""
  import multiprocessing

  ctx = multiprocessing.get_context('spawn')
  queue = ctx.Queue()
  proc = ctx.Process(target=_call_into, args=(queue, fn, args))
  proc.start()
  ok, result = queue.get()
  proc.join()
  if not ok:
    raise RuntimeError(result)
  return result


# --- driver <-> worker line protocol ----------------------------------------


def worker_channel():
  """In a worker: a writer for replies; fd 1 then points at stderr."""
  channel = os.fdopen(os.dup(1), 'w', buffering=1)
  os.dup2(2, 1)
  sys.stdout = sys.stderr

  def reply(payload):
    channel.write(_TAG + json.dumps(payload) + '\n')

  return reply


class Worker:
  """A worker process driven over stdin with one command per line."""

  def __init__(self, argv, env=None):
    self.proc = subprocess.Popen(
      argv,
      stdin=subprocess.PIPE,
      stdout=subprocess.PIPE,
      text=True,
      env=env,
    )

  def read(self, timeout):
    """The next reply; raises TimeoutError or RuntimeError (worker died)."""
    deadline = time.monotonic() + timeout
    while True:
      left = deadline - time.monotonic()
      if left <= 0:
        self.kill()
        raise TimeoutError(f'worker gave no answer in {timeout:.0f} s')
      ready, _, _ = select.select([self.proc.stdout], [], [], left)
      if not ready:
        continue
      line = self.proc.stdout.readline()
      if not line:
        code = self.proc.wait()
        raise RuntimeError(f'worker exited with code {code}')
      if line.startswith(_TAG):
        reply = json.loads(line[len(_TAG) :])
        if 'error' in reply:
          raise RuntimeError(reply['error'])
        return reply

  def ask(self, command, timeout):
    self.proc.stdin.write(command + '\n')
    self.proc.stdin.flush()
    return self.read(timeout)

  def kill(self):
    if self.proc.poll() is None:
      self.proc.kill()
      self.proc.wait()
