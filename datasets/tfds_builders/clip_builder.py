"""The shared builder base: turns lists of labelled clip folders into examples."""

import functools
import time

from absl import logging
import tensorflow_datasets as tfds

from tfds_builders import clip_reader
from tfds_builders import layout
from tfds_builders import workers as workers_lib

_LOG_EVERY = 500  # clips
# With `workers=None`, a dataset gets one worker per this many clips (up to
# the CPU count): starting a worker (~0.75 s: a fresh interpreter importing
# tfds_builders and TensorFlow Datasets) costs about as much as reading 100
# 16-frame 224 x 224 clips (7.7 ms each, benchmarks/README.md), so a small
# dataset stays in one process.
CLIPS_PER_WORKER = 128

OPENFACE_INSTRUCTIONS = """
OpenFace AUs: run OpenFace 2.2.0 FeatureExtraction on every clip folder, e.g.
`python -m tfds_builders.run_openface --dataset {name} --manual_dir <manual_dir>`.
The CSV of the clip folder `<manual_dir>/<rel>/` must be
`<manual_dir>/openface/<rel>.csv` (the `openface/` folder mirrors the
clip tree, e.g. `openface/{example}.csv`). Build with the builder argument
`allow_missing_au=True` to keep clips without a CSV (their `au_valid` is
False).
"""


class ClipDatasetBuilder(
  tfds.core.GeneratorBasedBuilder, skip_registration=True
):
  """Base of the clip builders; accepts `allow_missing_au` and `workers`.

  With `allow_missing_au=True` (default False), clips without an OpenFace
  CSV are kept with zero AU arrays and `au_valid=False`, and their number is
  reported. `workers` processes (default 1: none started) read and check
  the clips while this process writes them, into the same files; None: one
  per CPU, at most one per `CLIPS_PER_WORKER` clips. The workers are
  spawned, so a script that prepares with workers must guard its top level
  with `if __name__ == '__main__':`.
  """

  def __init__(self, *, allow_missing_au=False, workers=1, **kwargs):
    super().__init__(**kwargs)
    self._allow_missing_au = allow_missing_au
    self._workers = workers_lib.check_count(workers, f'{self.name}: workers')
    self._original_state['allow_missing_au'] = allow_missing_au  # pickling
    self._original_state['workers'] = workers
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

  def _read_in_order(self, read, jobs, what='clips', chunk_size=4):
    """Yields `read(job)` for every job in order, read in worker processes.

    Logs progress every `_LOG_EVERY` jobs. `read` is a picklable function
    (module level, or a `functools.partial` of one); `chunk_size` jobs go to
    a worker at once.
    """
    executor, num_workers = self._worker_pool(len(jobs))
    logging.info(
      '%s: reading %d %s in %d process(es)',
      self.name,
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
          '%s: read %d/%d %s (%.1f/s)',
          self.name,
          i,
          len(jobs),
          what,
          i / max(time.time() - start, 1e-9),
        )
      yield result

  def _clip_splits(self, manual_dir, frames_root, splits):
    """{split: examples} of {split: {clip id: label}}.

    The frames of a clip are in `frames_root/<clip id>/`.
    """
    return {
      split: self._generate_examples(
        manual_dir,
        {c: (frames_root / c, {'label': label}) for c, label in clips.items()},
      )
      for split, clips in splits.items()
    }

  def _generate_examples(self, manual_dir, clips):
    """Yields (clip id, example) for every clip, in clip id order.

    Args:
      manual_dir: the manual dir (the OpenFace CSVs are under it).
      clips: {clip id: (frames folder, fields)}; `fields` holds `label` and
        the values of the dataset's own features.
    """
    ordered = sorted(clips.items())
    jobs = [
      (
        frame_dir,
        layout.openface_csv_path(manual_dir, frame_dir),
        fields['label'],
        clip_id,
      )
      for clip_id, (frame_dir, fields) in ordered
    ]
    read = functools.partial(
      _read_clip, allow_missing_au=self._allow_missing_au
    )
    missing = 0
    for (clip_id, (_, fields)), (example, au_missing) in zip(
      ordered, self._read_in_order(read, jobs), strict=True
    ):
      missing += au_missing
      extra = {k: v for k, v in fields.items() if k != 'label'}
      yield clip_id, {**example, **extra}
    self._report_missing_au(missing, len(clips), 'clips')

  def _report_missing_au(self, missing, total, what):
    """Says how many of `total` clips (or videos) were kept without AUs."""
    if missing:
      message = (
        f'{self.name}: {missing} of {total} {what} have no OpenFace CSV; '
        'kept with au_valid=False (allow_missing_au=True)'
      )
      logging.warning(message)
      print(message)


def _read_clip(job, *, allow_missing_au):
  """`clip_reader.read_clip` of (frame dir, CSV path, label, clip id)."""
  frame_dir, csv_path, label, clip_id = job
  return clip_reader.read_clip(
    frame_dir,
    csv_path,
    label=label,
    clip_id=clip_id,
    allow_missing_au=allow_missing_au,
  )
