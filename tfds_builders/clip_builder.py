"""The shared builder base: turns lists of labelled clip folders into examples."""

import dataclasses

from absl import logging
from etils import epath
import tensorflow_datasets as tfds

from tfds_builders import clip_reader
from tfds_builders import layout
from tfds_builders.errors import DatasetLayoutError

_LOG_EVERY = 500  # clips

OPENFACE_INSTRUCTIONS = """
OpenFace AUs: run OpenFace 2.2.0 FeatureExtraction on every clip folder, e.g.
`python -m tfds_builders.run_openface --dataset {name} --manual_dir <manual_dir>`.
The CSV of the clip folder `<manual_dir>/<rel>/` must be
`<manual_dir>/openface/<rel>.csv` (the `openface/` folder mirrors the
clip tree, e.g. `openface/{example}.csv`). Build with the builder argument
`allow_missing_au=True` to keep clips without a CSV (their `au_valid` is
False).
"""


@dataclasses.dataclass(frozen=True)
class ClipRef:
  """A labelled clip: its id (the example key) and its frames folder."""

  clip_id: str
  label: int
  frame_dir: epath.Path


def check_unique(clips, file):
  """Raises if a clip id occurs twice in one split list."""
  seen = set()
  for clip_id in clips:
    if clip_id in seen:
      raise DatasetLayoutError(f'{file}: clip {clip_id} is listed twice')
    seen.add(clip_id)


class ClipDatasetBuilder(
  tfds.core.GeneratorBasedBuilder, skip_registration=True
):
  """Base of the clip builders; accepts `allow_missing_au` (default False).

  With `allow_missing_au=True`, clips without an OpenFace CSV are kept with
  zero AU arrays and `au_valid=False`, and their number is reported.
  """

  def __init__(self, *, allow_missing_au=False, **kwargs):
    super().__init__(**kwargs)
    self._allow_missing_au = allow_missing_au
    self._original_state['allow_missing_au'] = allow_missing_au  # pickling

  def _generate_examples(self, manual_dir, clips):
    """Yields (clip_id, example) for every `ClipRef`."""
    missing = 0
    for i, clip in enumerate(clips):
      example, au_missing = clip_reader.read_clip(
        clip.frame_dir,
        layout.openface_csv_path(manual_dir, clip.frame_dir),
        label=clip.label,
        clip_id=clip.clip_id,
        allow_missing_au=self._allow_missing_au,
      )
      missing += au_missing
      if (i + 1) % _LOG_EVERY == 0:
        logging.info('%s: read %d/%d clips', self.name, i + 1, len(clips))
      yield clip.clip_id, example
    if missing:
      message = (
        f'{self.name}: {missing} of {len(clips)} clips have no OpenFace CSV; '
        'kept with au_valid=False (allow_missing_au=True)'
      )
      logging.warning(message)
      print(message)
