"""Aff-Wild2 expression set: per-frame labels, stored as fixed-length windows."""

import dataclasses
import functools

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import clip_builder
from tfds_builders import clip_reader
from tfds_builders import facs
from tfds_builders import features
from tfds_builders import layout
from tfds_builders.errors import DatasetLayoutError

# The header and codes 0..7 of the EXPR annotation files; -1 is unannotated.
CODES = (
  'Neutral',
  'Anger',
  'Disgust',
  'Fear',
  'Happiness',
  'Sadness',
  'Surprise',
  'Other',
)
# Each code's canonical (DFEW-order) class; Other has none.
CANONICAL = {
  'Neutral': 'neutral',
  'Anger': 'angry',
  'Disgust': 'disgust',
  'Fear': 'fear',
  'Happiness': 'happy',
  'Sadness': 'sad',
  'Surprise': 'surprise',
}
# Canonical class of each code -1..7 (index code + 1); -1: no class.
_CODE_TO_LABEL = np.array(
  [-1]
  + [
    facs.EXPRESSIONS.index(CANONICAL[c]) if c in CANONICAL else -1
    for c in CODES
  ],
  np.int32,
)
SPLITS = {'train': 'Train_Set', 'validation': 'Validation_Set'}
CROPPED_DIRNAME = 'cropped_aligned'
VIDEO_SUFFIXES = ('.mp4', '.avi')
SUBJECT_SUFFIXES = ('_left', '_right')


@dataclasses.dataclass(eq=False)
class WindowConfig(tfds.core.BuilderConfig):
  """A config whose examples are windows of `window` frames."""

  window: int = 16


def read_labels(path):
  """The per-frame codes (-1..7) of one EXPR annotation file, int32 [N].

  Raises:
    DatasetLayoutError: the header is not the 8 class names, or a line is
      not one code in -1..7.
  """
  path = epath.Path(path)
  lines = path.read_text().splitlines()
  header = [word.strip() for word in lines[0].split(',')] if lines else []
  if header != list(CODES):
    raise DatasetLayoutError(
      f'{path}: first line must be the header {",".join(CODES)}, got '
      f'{lines[0] if lines else "an empty file"!r}'
    )
  codes = []
  for number, text in enumerate(lines[1:], start=2):
    try:
      code = int(text)
    except ValueError:
      code = None
    if code is None or not -1 <= code < len(CODES):
      raise DatasetLayoutError(
        f'{path}: line {number} is not an expression code -1..7: {text!r}'
      )
    codes.append(code)
  if not codes:
    raise DatasetLayoutError(f'{path}: no frame labels after the header')
  return np.array(codes, np.int32)


def canonical_labels(codes):
  """Per-frame canonical classes of Aff-Wild2 codes; -1 for -1 and Other."""
  return _CODE_TO_LABEL[np.asarray(codes) + 1]


def windows(frame_numbers, labels, window):
  """The windows of a video to keep, as lists of positions in its frames.

  Window k covers the video frames k * window + 1 ... (k + 1) * window. It is
  kept when every one of its frames has an image (a face) and at least half
  of them have one of the seven expressions.

  Args:
    frame_numbers: the 1-based video frame number of each frame image, in
      increasing order.
    labels: per video frame (index number - 1), its canonical class or -1.
    window: the window length.

  Returns:
    Per kept window, the positions of its frames in `frame_numbers`.
  """
  position = {n: i for i, n in enumerate(frame_numbers)}
  kept = []
  for start in range(1, len(labels) - window + 2, window):
    numbers = range(start, start + window)
    if all(n in position for n in numbers):
      labelled = np.count_nonzero(labels[start - 1 : start - 1 + window] >= 0)
      if 2 * labelled >= window:
        kept.append([position[n] for n in numbers])
  return kept


def majority_label(frame_labels):
  """The most frequent class of a window's labelled frames (ties: lowest)."""
  frame_labels = np.asarray(frame_labels)
  counts = np.bincount(
    frame_labels[frame_labels >= 0], minlength=facs.NUM_EXPRESSIONS
  )
  return int(np.argmax(counts))


def find_cropped_aligned(manual_dir):
  """The `cropped_aligned` folder of the ABAW release, or None."""
  try:
    return layout.find_dir(
      manual_dir,
      lambda p: p.name == CROPPED_DIRNAME,
      f'Aff-Wild2 {CROPPED_DIRNAME}',
      prune=(layout.FACE_CROP_DIRNAME,),
    )
  except DatasetLayoutError:
    return None


def find_frame_roots(manual_dir):
  """The frame trees run_openface processes: cropped_aligned and frames."""
  roots = [find_cropped_aligned(manual_dir)]
  roots.append(epath.Path(manual_dir) / layout.FACE_CROP_DIRNAME)
  return [root for root in roots if root is not None and root.is_dir()]


def find_label_dirs(manual_dir):
  """{split: folder of its `<video>.txt`} (`EXPR_Set/Train_Set`, ...)."""
  train = layout.find_dir(
    manual_dir,
    lambda p: p.name == SPLITS['train'] and 'EXPR' in p.parent.name.upper(),
    'Aff-Wild2 EXPR_Set/Train_Set',
    prune=(CROPPED_DIRNAME, layout.FACE_CROP_DIRNAME),
  )
  dirs = {split: train.parent / name for split, name in SPLITS.items()}
  for folder in dirs.values():
    if not folder.is_dir():
      raise DatasetLayoutError(f'{folder}: Aff-Wild2 label folder is missing')
  return dirs


class FrameFolders:
  """Finds the frames of an annotated video: cropped_aligned, else face crops."""

  def __init__(self, manual_dir):
    self._manual_dir = epath.Path(manual_dir)
    self._cropped = find_cropped_aligned(manual_dir)
    self._videos = None  # {stem: video file}, listed when first needed.

  def __call__(self, label_file):
    """(frames folder, whether it has every video frame) of `label_file`.

    cropped_aligned leaves out the frames without a face; the face-crop
    stage writes one image per decoded frame.
    """
    name = epath.Path(label_file).stem
    if self._cropped is not None and (self._cropped / name).is_dir():
      return self._cropped / name, False
    if name.endswith(SUBJECT_SUFFIXES):
      raise DatasetLayoutError(
        f'{label_file}: no {CROPPED_DIRNAME}/{name}/ frames; a video with '
        'two subjects (_left/_right) needs the cropped_aligned frames of the '
        'ABAW release (the face crop keeps one face per frame)'
      )
    video = self._video(label_file, name)
    layout.check_face_crops(self._manual_dir, [video])
    return layout.face_crop_dir(self._manual_dir, video), True

  def _video(self, label_file, name):
    if self._videos is None:
      self._videos = {}
      for path in layout.find_videos(self._manual_dir, VIDEO_SUFFIXES):
        if path.stem in self._videos:
          raise DatasetLayoutError(
            f'{path}: video {path.stem} is also {self._videos[path.stem]}'
          )
        self._videos[path.stem] = path
    if name not in self._videos:
      raise DatasetLayoutError(
        f'{label_file}: no {CROPPED_DIRNAME}/{name}/ frames and no video '
        f'{name}{"/".join(VIDEO_SUFFIXES)} under {self._manual_dir}'
      )
    return self._videos[name]


class Builder(clip_builder.ClipDatasetBuilder):
  """Aff-Wild2 expression windows with OpenFace 2.2.0 action units."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [
    WindowConfig(
      name='window_16',
      description='Windows of 16 consecutive frames (stride 16), each with '
      'per-frame labels and the majority label.',
      window=16,
    ),
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
Request Aff-Wild2 (the ABAW challenge release,
https://ibug.doc.ic.ac.uk/resources/aff-wild2/) and extract under manual_dir
the expression annotations `.../EXPR_Set/{Train_Set,Validation_Set}/<video>.txt`
(any folder whose name contains EXPR holding both), the cropped-aligned
frames `cropped_aligned/<video>/NNNNN.jpg` and, for videos without
cropped-aligned frames, the videos (`<video>.mp4` or `.avi`, any folders).
Videos with two subjects have one annotation file per subject
(`<video>_left.txt`, `<video>_right.txt`) and need their cropped_aligned
frames. Crop the faces of the other videos with
`python -m tfds_builders.face_crop --manual_dir <manual_dir>`, which writes
`frames/<rel>/<stem>/00001.jpg, ...`.
""" + clip_builder.OPENFACE_INSTRUCTIONS.format(
    name='affwild2', example='cropped_aligned/1-30-1280x720'
  )

  def _info(self):
    extra = {
      'video_id': tfds.features.Text(),
      'frame_labels': tfds.features.Tensor(shape=(None,), dtype=np.int32),
      'expression_codes': tfds.features.Tensor(shape=(None,), dtype=np.int32),
    }
    return self.dataset_info_from_configs(
      features=features.clip_features(facs.EXPRESSIONS, extra),
      supervised_keys=('video', 'label'),
      homepage='https://ibug.doc.ic.ac.uk/resources/aff-wild2/',
    )

  def _split_generators(self, dl_manager):
    manual_dir = epath.Path(dl_manager.manual_dir)
    frame_folders = FrameFolders(manual_dir)
    splits = {}
    for split, folder in find_label_dirs(manual_dir).items():
      files = sorted(folder.glob('*.txt'))
      if not files:
        raise DatasetLayoutError(f'{folder}: no <video>.txt label files')
      # Every frames folder is found before any frame is read.
      splits[split] = [(f, *frame_folders(f)) for f in files]
    return {
      split: self._generate_windows(manual_dir, videos)
      for split, videos in splits.items()
    }

  def _generate_windows(self, manual_dir, videos):
    """Yields (clip id, example) for the windows of every video."""
    window = self.builder_config.window
    read = functools.partial(
      _read_video,
      manual_dir=manual_dir,
      allow_missing_au=self._allow_missing_au,
    )
    missing = 0
    for (label_file, _, _), video in zip(
      videos,
      self._read_in_order(read, videos, 'videos', chunk_size=1),
      strict=True,
    ):
      codes, numbers, jpegs, track, au_missing = video
      name = label_file.stem
      missing += au_missing
      labels = canonical_labels(codes)
      for positions in windows(numbers, labels, window):
        frame_numbers = np.array([numbers[i] for i in positions])
        frame_labels = labels[frame_numbers - 1]
        clip_id = f'{name}/{frame_numbers[0]:05d}'
        example = clip_reader.clip_example(
          [jpegs[i] for i in positions],
          track.take(positions),
          label=majority_label(frame_labels),
          clip_id=clip_id,
          au_missing=au_missing,
        )
        yield (
          clip_id,
          {
            **example,
            'video_id': name,
            'frame_labels': frame_labels,
            'expression_codes': codes[frame_numbers - 1],
          },
        )
    self._report_missing_au(missing, len(videos), 'videos')


def _read_video(video, *, manual_dir, allow_missing_au):
  """(codes, frame numbers, JPEGs, track, au_missing) of one video.

  `video` is (label file, frames folder, every frame); runs in a worker.
  """
  label_file, frame_dir, every_frame = video
  codes = read_labels(label_file)
  paths, jpegs = clip_reader.read_frames(frame_dir)
  numbers = [layout.frame_number(p) for p in paths]
  _check_frames(label_file, frame_dir, numbers, len(codes), every_frame)
  track, au_missing = clip_reader.read_track(
    frame_dir,
    paths,
    layout.openface_csv_path(manual_dir, frame_dir),
    clip_id=label_file.stem,
    allow_missing_au=allow_missing_au,
  )
  return codes, numbers, jpegs, track, au_missing


def _check_frames(label_file, frame_dir, numbers, num_labels, every_frame):
  """One label line per video frame: the frames must fit the label file."""
  if not every_frame:
    if numbers[-1] > num_labels:
      raise DatasetLayoutError(
        f'{label_file}: {num_labels} label lines, but {frame_dir} has frame '
        f'{numbers[-1]}'
      )
  elif numbers != list(range(1, num_labels + 1)):
    raise DatasetLayoutError(
      f'{label_file}: {num_labels} label lines, but {frame_dir} has '
      f'{len(numbers)} frames (expected 00001.jpg ... one per video frame)'
    )
