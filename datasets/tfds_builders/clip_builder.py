"""The shared builder base: turns lists of labelled clip folders into examples."""

import functools

from absl import logging

from tfds_builders import clip_reader
from tfds_builders import layout
from tfds_builders import parallel_builder

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
  parallel_builder.ParallelBuilder, skip_registration=True
):
  """Base of the clip builders; accepts `allow_missing_au` and `workers`.

  With `allow_missing_au=True` (default False), clips without an OpenFace
  CSV are kept with zero AU arrays and `au_valid=False`, and their number is
  reported. `workers` processes read and check the clips while this process
  writes them (`parallel_builder.ParallelBuilder`).
  """

  def __init__(self, *, allow_missing_au=False, **kwargs):
    super().__init__(**kwargs)
    self._allow_missing_au = allow_missing_au
    self._original_state['allow_missing_au'] = allow_missing_au  # pickling

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
