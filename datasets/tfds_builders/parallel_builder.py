"""A builder base whose examples are made in worker processes, in order."""

import time

from absl import logging
import tensorflow_datasets as tfds

from tfds_builders import workers as workers_lib

_LOG_EVERY = 500  # jobs (clips, videos) between two progress lines
# With `workers=None`, a dataset gets one worker per this many clips (up to
# the CPU count): starting a worker (~0.75 s: a fresh interpreter importing
# tfds_builders and TensorFlow Datasets) costs about as much as reading 100
# 16-frame 224 x 224 clips (7.7 ms each, benchmarks/README.md), so a small
# dataset stays in one process.
CLIPS_PER_WORKER = 128


class ParallelBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Accepts `workers`: processes that make the examples this one writes.

  `workers` processes (default 1: none started) read or render the clips
  while this process writes them, into the same files; None: one per CPU,
  at most one per `CLIPS_PER_WORKER` clips. The workers are spawned, so a
  script that prepares with workers must guard its top level with
  `if __name__ == '__main__':`.
  """

  def __init__(self, *, workers=1, **kwargs):
    super().__init__(**kwargs)
    self._workers = workers_lib.check_count(workers, f'{self.name}: workers')
    self._original_state['workers'] = workers  # pickling
    self._pool = None  # (executor, workers) of this preparation's splits

  def _download_and_prepare(self, *args, **kwargs):
    try:
      return super()._download_and_prepare(*args, **kwargs)
    finally:  # also when a split fails: the workers end with it
      if self._pool is not None:
        self._pool[0].shutdown(wait=True, cancel_futures=True)
        self._pool = None

  def _worker_pool(self, num_jobs):
    """(executor or None, workers) that read a split of `num_jobs` jobs.

    One pool serves every split of a preparation (a worker's start costs
    about a second); the first split that needs one sizes it.
    """
    if self._pool is not None:
      return self._pool
    num_workers = self._workers
    if num_workers is None:
      num_workers = max(
        1, min(workers_lib.cpu_count(), num_jobs // CLIPS_PER_WORKER)
      )
    if num_workers <= 1 or num_jobs <= 1:
      return None, 1
    self._pool = workers_lib.pool(num_workers), num_workers
    return self._pool

  def _read_in_order(
    self, read, jobs, what='clips', chunk_size=4, verbs=('reading', 'read')
  ):
    """Yields `read(job)` for every job in order, read in worker processes.

    Logs progress every `_LOG_EVERY` jobs, in the words of `verbs` (-ing
    form, past participle). `read` is a picklable function (module level,
    or a `functools.partial` of one); `chunk_size` jobs go to a worker at
    once.
    """
    executor, num_workers = self._worker_pool(len(jobs))
    logging.info(
      '%s: %s %d %s in %d process(es)',
      self.name,
      verbs[0],
      len(jobs),
      what,
      num_workers,
    )
    start = time.time()
    results = workers_lib.ordered_map(
      read, jobs, num_workers, chunk_size=chunk_size, executor=executor
    )
    for i, result in enumerate(results, start=1):
      if i % _LOG_EVERY == 0:
        logging.info(
          '%s: %s %d/%d %s (%.1f/s)',
          self.name,
          verbs[1],
          i,
          len(jobs),
          what,
          i / max(time.time() - start, 1e-9),
        )
      yield result
