"""RAVDESS: acted speech and song videos of 24 actors, 8 emotions."""

import dataclasses
import re

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import clip_builder
from tfds_builders import facs
from tfds_builders import features
from tfds_builders import layout
from tfds_builders.errors import DatasetLayoutError

# RAVDESS's emotion codes 01..08, in code order.
EMOTIONS = (
  'neutral',
  'calm',
  'happy',
  'sad',
  'angry',
  'fearful',
  'disgust',
  'surprised',
)
# Each emotion's canonical (DFEW-order) class. Calm has no canonical class:
# it is acted as a relaxed, low-arousal state, so it goes with neutral.
CANONICAL = {
  'neutral': 'neutral',
  'calm': 'neutral',
  'happy': 'happy',
  'sad': 'sad',
  'angry': 'angry',
  'fearful': 'fear',
  'disgust': 'disgust',
  'surprised': 'surprise',
}
MODALITIES = {1: 'full audio-video', 2: 'video only', 3: 'audio only'}
VOCAL_CHANNELS = ('speech', 'song')
INTENSITIES = ('normal', 'strong')
NUM_ACTORS = 24
_NAME = re.compile(r'(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)')
_NAME_FORM = 'MM-VV-EE-II-SS-RR-AA (seven two-digit codes)'


@dataclasses.dataclass(frozen=True)
class Recording:
  """The codes of one RAVDESS file name."""

  modality: int
  vocal_channel: int
  emotion: int
  intensity: int
  statement: int
  repetition: int
  actor: int

  @property
  def key(self):
    """The recording, whatever the modality: full AV and video only match."""
    return dataclasses.astuple(self)[1:]


def parse_name(path):
  """The `Recording` of a RAVDESS file, its name checked.

  Args:
    path: a file `.../Actor_NN/MM-VV-EE-II-SS-RR-AA.<ext>`.

  Raises:
    DatasetLayoutError: the name is not seven codes, a code is unknown, or
      the actor code differs from the `Actor_NN` folder.
  """
  path = epath.Path(path)
  match = _NAME.fullmatch(path.stem)
  if match is None:
    raise DatasetLayoutError(f'{path}: RAVDESS file name is not {_NAME_FORM}')
  recording = Recording(*(int(code) for code in match.groups()))
  ranges = {
    'modality': len(MODALITIES),
    'vocal channel': len(VOCAL_CHANNELS),
    'emotion': len(EMOTIONS),
    'emotional intensity': len(INTENSITIES),
    'statement': 2,
    'repetition': 2,
    'actor': NUM_ACTORS,
  }
  for (what, top), code in zip(
    ranges.items(), dataclasses.astuple(recording), strict=True
  ):
    if not 1 <= code <= top:
      raise DatasetLayoutError(
        f'{path}: unknown {what} code {code:02d} (expected 01..{top:02d})'
      )
  folder = re.fullmatch(r'Actor_(\d+)', path.parent.name)
  if folder and int(folder.group(1)) != recording.actor:
    raise DatasetLayoutError(
      f'{path}: actor code {recording.actor:02d} but the file is in '
      f'{path.parent.name}'
    )
  return recording


def find_videos(manual_dir):
  """{clip id: video file} of every visual recording, each once.

  Audio-only files (modality 03, the `.wav` downloads) are left out. Full
  audio-video (01) and video-only (02) files of one recording have the same
  frames: the full audio-video file is kept when both are present.
  """
  paths = layout.find_videos(manual_dir, ('.mp4',))
  visual = [p for p in paths if parse_name(p).modality != 3]
  return {path.stem: path for path in copies_read(visual)[0]}


def copies_read(paths):
  """(the paths the builder reads, the duplicate copies it does not read).

  `paths`: video files or their face-crop folders. Of a recording present
  both as full audio-video (01-*) and as video only (02-*), the builder
  reads the audio-video copy. Paths that are not RAVDESS names are read.
  """
  chosen, read, skipped = {}, [], []
  for path in paths:
    try:
      recording = parse_name(path)
    except DatasetLayoutError:
      read.append(path)
      continue
    kept = chosen.setdefault(recording.key, path)
    if kept is not path:
      if recording.modality < parse_name(kept).modality:
        chosen[recording.key], path = path, kept
      skipped.append(path)
  return sorted(read + list(chosen.values())), sorted(skipped)


def skipped_message(skipped, what):
  """The line that says which copies a step skipped, and why."""
  return (
    f'skipped {len(skipped):,} video-only {what} (02-*): the ravdess builder '
    'reads the audio-video copies (01-*) of the same recordings'
  )


def actor_splits(test_actors):
  """TFDS split strings (train, test): the test actors against the others.

  >>> actor_splits([1, 2])[1]
  'actor_01+actor_02'
  """
  test = sorted(set(test_actors))
  if not test or not set(test) <= set(range(1, NUM_ACTORS + 1)):
    raise ValueError(f'test actors must be in 1..{NUM_ACTORS}, got {test}')
  names = lambda actors: '+'.join(f'actor_{a:02d}' for a in actors)  # noqa: E731
  train = [a for a in range(1, NUM_ACTORS + 1) if a not in test]
  return names(train), names(test)


class Builder(clip_builder.ClipDatasetBuilder):
  """RAVDESS videos with OpenFace 2.2.0 action units."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [
    tfds.core.BuilderConfig(
      name='7_classes',
      description='Speech and song videos, labelled with the canonical '
      '7 classes; calm is merged into neutral, and `emotion` keeps the '
      'original 8-class label. One split per actor.',
    ),
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
Download the video files of RAVDESS (https://zenodo.org/records/1188976:
Video_Speech_Actor_NN.zip and Video_Song_Actor_NN.zip) and extract them under
manual_dir, keeping `Actor_NN/MM-VV-EE-II-SS-RR-AA.mp4` (any folders above
`Actor_NN` are fine). Audio-only files are ignored; a recording present both
as full audio-video (MM 01) and as video only (MM 02) is stored once (the
audio-video copy), and only that copy is face-cropped and analysed.
Then crop the faces of the videos:
`python -m tfds_builders.face_crop --manual_dir <manual_dir>`, which writes
the frames of `<rel>/<stem>.mp4` to `frames/<rel>/<stem>/00001.jpg, ...`.
Splits `actor_01` ... `actor_24` hold one actor's clips each, so any
actor-independent protocol is a split string
(`tfds_builders.ravdess.ravdess_dataset_builder.actor_splits`).
""" + clip_builder.OPENFACE_INSTRUCTIONS.format(
    name='ravdess', example='frames/Actor_01/01-01-03-01-01-01-01'
  )

  def _info(self):
    extra = {
      'emotion': tfds.features.ClassLabel(names=EMOTIONS),
      'actor': np.int32,
      'vocal_channel': tfds.features.ClassLabel(names=VOCAL_CHANNELS),
      'intensity': tfds.features.ClassLabel(names=INTENSITIES),
    }
    return self.dataset_info_from_configs(
      features=features.clip_features(facs.EXPRESSIONS, extra),
      supervised_keys=('video', 'label'),
      homepage='https://zenodo.org/records/1188976',
    )

  def _split_generators(self, dl_manager):
    manual_dir = epath.Path(dl_manager.manual_dir)
    videos = find_videos(manual_dir)
    if not videos:
      raise DatasetLayoutError(
        f'{manual_dir}: no RAVDESS video (Actor_NN/*.mp4) found'
      )
    layout.check_face_crops(manual_dir, videos.values())
    splits = {}
    for clip_id, path in videos.items():
      recording = parse_name(path)
      emotion = EMOTIONS[recording.emotion - 1]
      fields = {
        'label': facs.EXPRESSIONS.index(CANONICAL[emotion]),
        'emotion': emotion,
        'actor': recording.actor,
        'vocal_channel': VOCAL_CHANNELS[recording.vocal_channel - 1],
        'intensity': INTENSITIES[recording.intensity - 1],
      }
      split = splits.setdefault(f'actor_{recording.actor:02d}', {})
      split[clip_id] = (layout.face_crop_dir(manual_dir, path), fields)
    return {
      name: self._generate_examples(manual_dir, clips)
      for name, clips in sorted(splits.items())
    }
