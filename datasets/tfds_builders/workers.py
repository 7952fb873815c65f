"""Worker processes for the preparation stages: one pool, results in order.

The pools start their workers with 'spawn': the process that prepares a
dataset has TensorFlow (and maybe JAX) loaded, whose threads a fork would
copy in an undefined state. A spawned worker imports what unpickling its
function needs: for the builders' readers the tfds_builders package, which
imports TensorFlow Datasets but not TensorFlow (about a second).
"""

import collections
from concurrent import futures
import functools
import multiprocessing
import os


def cpu_count():
  """The CPUs this process may run on (its affinity, not the machine's)."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:  # macOS, Windows
    return os.cpu_count() or 1


def check_count(workers, where='workers'):
  """`workers` if it is None or an int >= 1; else a one-line ValueError."""
  if workers is not None and (
    isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
  ):
    raise ValueError(f'{where}: must be an integer >= 1, got {workers!r}')
  return workers


def pool(workers, initializer=None, initargs=()):
  """A `ProcessPoolExecutor` of `workers` spawned processes."""
  return futures.ProcessPoolExecutor(
    workers,
    mp_context=multiprocessing.get_context('spawn'),
    initializer=initializer,
    initargs=initargs,
  )


def _run_chunk(fn, chunk):
  return [fn(item) for item in chunk]


def ordered_map(
  fn, items, workers, chunk_size=4, chunks_ahead=2, executor=None
):
  """Yields `fn(item)` for every item, in the order of `items`.

  With `workers` > 1 the items are read in that many spawned processes, in
  chunks of `chunk_size`; at most `chunks_ahead` chunks per worker are
  queued or finished-but-unread, so a consumer slower than the workers
  (TFDS writing) holds a bounded number of results in memory. The first
  item that raises (in item order) raises here, as `fn` would in a loop,
  and the chunks not yet started are cancelled.

  Args:
    fn: a picklable function of one item (a module-level function or a
      `functools.partial` of one).
    items: a sequence.
    workers: processes; 1 (or one chunk of items) calls `fn` here, no pool.
    chunk_size: items per task sent to a worker (fewer when there are fewer
      than `chunk_size` items per worker).
    chunks_ahead: chunks in flight per worker.
    executor: a `pool(workers)` to use and leave running (several calls
      share its processes); None: one is started and shut down here.
  """
  # Fewer items than chunks for every worker: smaller chunks, so that all
  # workers get some.
  chunk_size = max(1, min(chunk_size, len(items) // max(workers, 1)))
  chunks = [items[i : i + chunk_size] for i in range(0, len(items), chunk_size)]
  if min(workers, len(chunks)) <= 1:
    yield from map(fn, items)
    return
  own = executor is None
  if own:
    executor = pool(workers)
  pending = collections.deque()
  try:
    next_chunks = iter(chunks)
    task = functools.partial(_run_chunk, fn)
    for chunk in next_chunks:
      pending.append(executor.submit(task, chunk))
      if len(pending) >= workers * chunks_ahead:
        break
    while pending:
      results = pending.popleft().result()
      chunk = next(next_chunks, None)
      if chunk is not None:
        pending.append(executor.submit(task, chunk))
      yield from results
  finally:
    for future in pending:
      future.cancel()
    if own:
      executor.shutdown(wait=True, cancel_futures=True)
