"""Regenerates the builders' checked-in dummy_data trees.

    python datasets/tests/make_dummy_data.py --out DIR [--datasets dfew,...]

writes `DIR/<dataset>/dummy_data/`, laid out like the official downloads, so
`--out datasets/tfds_builders` rewrites the checked-in trees in place (it adds and
overwrites files but deletes none). The clips are declared below; their frame
and OpenFace contents follow the encoding documented in `dummy_clips.py`.
"""

import argparse
from collections.abc import Iterator
import dataclasses
import pathlib
import sys

import cv2
import dummy_clips
import numpy as np
from PIL import Image

from tfds_builders import folds
from tfds_builders import layout
from tfds_builders import openface

# The checked-in JPEGs were saved by Pillow at this quality; uniform gray
# frames decode back to their exact value at it.
JPEG_QUALITY = 95
FRAME_SIZE = 8  # pixels, square
OPENFACE_HEADER = ', '.join(
  ('frame', 'face_id', 'timestamp', 'confidence', 'success')
  + openface.INTENSITY_COLUMNS
  + openface.PRESENCE_COLUMNS
)

# DFEW. Test set k: {clip id: DFEW label 1..7}; train set k is the union of
# the others (folds.check_folds insists on that).
DFEW_TEST_SETS = {
  1: {1: 1, 13: 7},
  2: {2: 2},
  3: {5: 3, 14: 6},
  4: {7: 4},
  5: {10: 5},
}
# Frames per clip of clip_224x224 (the 16-frame set always has 16). Clip 3 is
# in no split file: builders must skip folders that no split lists.
DFEW_LENGTHS = {1: 2, 2: 3, 3: 2, 5: 4, 7: 2, 10: 3, 13: 4, 14: 3}
# Doubled folder, as some unzip tools leave it.
DFEW_FULL_DIR = 'Clip/clip_224x224/clip_224x224'
DFEW_16F_DIR = 'Clip/clip_224x224_16f'
DFEW_16F_LENGTH = 16
DFEW_SPLIT_DIRS = {
  'test': 'EmoLabel_DataSplit/test(single-labeled)',
  'train': 'EmoLabel_DataSplit/train(single_labeled)',  # Both spellings occur.
}

# FERV39k. Split: {Scene/Emotion/NNNN: frames}; the label word is the Emotion
# folder. Clip 0001 is in two scenes: ids repeat across scenes.
FERV39K_SPLITS = {
  'train': {
    'Action/Happy/0001': 2,
    'Crime/Happy/0001': 3,
    'School/Angry/0010': 2,
  },
  'test': {'Action/Sad/0002': 4, 'School/Fear/0003': 3},
}
FERV39K_FRAMES_DIR = '2_ClipsforFaceCrop-002/2_ClipsforFaceCrop'  # Zip-named.
FERV39K_SETUP_DIR = '4_setups/All_scenes'

# MAFW. Test set k: {clip id: MAFW word}, words from all 11 classes so the
# 7-class config has clips to drop (contempt, anxiety), and all 7 basic ones
# (the four-dataset knowledge extraction needs every class).
MAFW_TEST_SETS = {
  1: {'00019': 'happiness', '00025': 'contempt'},
  2: {'00031': 'sadness', '00033': 'disgust'},
  3: {'00040': 'neutral'},
  4: {'00052': 'anger', '00060': 'anxiety'},
  5: {'00077': 'fear', '00080': 'surprise'},
}
# Clip 00040 has 11 PNG frames, 1.png..11.png, to exercise the numeric sort.
MAFW_LENGTHS = {
  '00019': 2,
  '00025': 3,
  '00031': 2,
  '00033': 2,
  '00040': 11,
  '00052': 3,
  '00060': 2,
  '00077': 2,
  '00080': 3,
}
MAFW_FRAMES_DIR = 'data/frames'
MAFW_SPLIT_DIR = 'Train & Test Set/single/no_caption'

# RAVDESS. Video (relative path, no extension) -> frames, one zip-named parent
# and one plain `Actor_NN`; every emotion code 01..08, speech and song.
RAVDESS_SPEECH = 'Video_Speech_Actor_01/Actor_01'
RAVDESS_VIDEOS = {
  f'{RAVDESS_SPEECH}/01-01-01-01-01-01-01': 3,
  f'{RAVDESS_SPEECH}/01-01-02-01-01-01-01': 2,
  f'{RAVDESS_SPEECH}/01-01-03-02-01-01-01': 4,
  f'{RAVDESS_SPEECH}/01-01-04-01-02-01-01': 2,
  f'{RAVDESS_SPEECH}/01-01-05-02-01-02-01': 3,
  f'{RAVDESS_SPEECH}/01-01-06-01-01-01-01': 2,
  f'{RAVDESS_SPEECH}/01-01-07-01-01-01-01': 2,
  f'{RAVDESS_SPEECH}/01-01-08-02-02-02-01': 3,
  'Actor_02/02-02-03-01-01-01-02': 3,
  'Actor_02/01-02-05-02-02-01-02': 2,
}
# The video-only copy of a full audio-video recording: the builder stores the
# recording once, from the full audio-video file, so it has no frames here.
RAVDESS_DUPLICATE = f'{RAVDESS_SPEECH}/02-01-02-01-01-01-01'

# Aff-Wild2. Annotation file -> (split, per-frame codes). The two subjects of
# 10-60-1280x720 and video 1-30-1280x720 have cropped_aligned frames (the
# latter without frame 20: no face); video7 has face-crop frames only.
AFFWILD2_LABELS = {
  '10-60-1280x720_left': ('Train_Set', [1] * 6 + [2] * 6 + [-1] * 4),
  '10-60-1280x720_right': (
    'Train_Set',
    [3] * 4 + [7] * 2 + [6] * 7 + [4] * 3,
  ),
  'video7': ('Train_Set', [0] * 10 + [5] * 6 + [-1] * 9 + [4] * 7 + [4]),
  '1-30-1280x720': (
    'Validation_Set',
    [4] * 10 + [0] * 4 + [-1] * 2 + [5] * 18,
  ),
}
AFFWILD2_VIDEOS = {  # video file -> frames
  'videos/batch2/10-60-1280x720.mp4': 16,
  'videos/batch2/video7.avi': 33,
  'videos/batch1/1-30-1280x720.mp4': 34,
}
AFFWILD2_FACE_CROPPED = {'video7': 'frames/videos/batch2/video7'}
AFFWILD2_MISSING_FACES = {'1-30-1280x720': (20,)}
AFFWILD2_LABEL_DIR = 'annotations/EXPR_Set'
AFFWILD2_HEADER = 'Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other'
VIDEO_SIZE = 16  # pixels, square


@dataclasses.dataclass(frozen=True)
class Clip:
  """One clip folder of frames, plus its OpenFace CSV."""

  folder: str  # Relative to the tree root.
  number: int  # The clip number c of the AU encoding.
  frames: tuple[str, ...]  # File names; frame n (1-based) is frames[n - 1].
  # Gray level of each frame; None: frame_value(n).
  values: tuple[int, ...] | None = None


@dataclasses.dataclass(frozen=True)
class Tree:
  """The contents of one dummy_data tree."""

  clips: list[Clip]
  texts: dict[str, str]  # Relative path -> contents of the label files.
  videos: dict[str, int] = dataclasses.field(default_factory=dict)  # frames


def frame_value(n):
  """The gray level of frame n, which reveals the frame order when decoded."""
  return 8 * n + 16


def frame_names(pattern, num_frames):
  """Frame file names in temporal order, from a `{n}` pattern."""
  return tuple(pattern.format(n=n) for n in range(1, num_frames + 1))


def five_folds(test_sets) -> Iterator[tuple[int, dict, dict]]:
  """(k, test set k, train set k) with the train set sorted by clip id."""
  for k in range(1, folds.NUM_FOLDS + 1):
    train = {}
    for other, clips in test_sets.items():
      if other != k:
        train.update(clips)
    yield k, test_sets[k], dict(sorted(train.items()))


def dfew():
  """Both DFEW frame sets, and five folds of test and train CSVs."""
  clips = []
  for clip, length in DFEW_LENGTHS.items():
    name = f'{clip:05d}'
    clips.append(
      Clip(
        f'{DFEW_FULL_DIR}/{name}',
        clip,
        frame_names(name + '_{n:05d}.jpg', length),
      )
    )
    # Named 1.jpg..16.jpg, whose numeric and lexicographic orders differ.
    clips.append(
      Clip(
        f'{DFEW_16F_DIR}/{name}', clip, frame_names('{n}.jpg', DFEW_16F_LENGTH)
      )
    )
  texts = {}
  for k, test, train in five_folds(DFEW_TEST_SETS):
    for kind, members in (('test', test), ('train', train)):
      rows = ''.join(f'{clip},{label}\n' for clip, label in members.items())
      texts[f'{DFEW_SPLIT_DIRS[kind]}/set_{k}.csv'] = (
        'video_name,label\n' + rows
      )
  return Tree(clips, texts)


def ferv39k():
  """FERV39k clips by scene and emotion, and the All_scenes lists."""
  clips = [
    Clip(
      f'{FERV39K_FRAMES_DIR}/{clip}',
      int(clip[-4:]),
      frame_names('{n:02d}.jpg', n),
    )
    for split in FERV39K_SPLITS.values()
    for clip, n in split.items()
  ]
  texts = {
    f'{FERV39K_SETUP_DIR}/{name}_All.csv': ''.join(
      f'{clip} {clip.split("/")[1]}\n' for clip in split
    )
    for name, split in FERV39K_SPLITS.items()
  }
  return Tree(clips, texts)


def mafw():
  """MAFW PNG clips, and five folds of test and train lists."""
  clips = [
    Clip(f'{MAFW_FRAMES_DIR}/{clip}', int(clip), frame_names('{n}.png', n))
    for clip, n in MAFW_LENGTHS.items()
  ]
  texts = {}
  for k, test, train in five_folds(MAFW_TEST_SETS):
    for kind, members in (('test', test), ('train', train)):
      texts[f'{MAFW_SPLIT_DIR}/set_{k}/{kind}.txt'] = ''.join(
        f'{clip}.mp4 {word}\n' for clip, word in members.items()
      )
  return Tree(clips, texts)


def affwild2_value(m):
  """The gray level of Aff-Wild2 video frame m (videos are up to 34 long)."""
  return 6 * m + 10


def face_crops(folder, num_frames):
  """Face-crop output of one video: 00001.jpg, ... and faces.csv."""
  rows = ''.join(f'{n},1,0,0,{FRAME_SIZE}\n' for n in range(1, num_frames + 1))
  names = frame_names('{n:05d}.jpg', num_frames)
  return names, {f'{folder}/faces.csv': 'frame,face,x,y,size\n' + rows}


def ravdess():
  """RAVDESS videos (plus a video-only duplicate) and their face crops."""
  clips, texts = [], {}
  twin = RAVDESS_DUPLICATE.replace('/02-', '/01-', 1)
  videos = {f'{RAVDESS_DUPLICATE}.mp4': RAVDESS_VIDEOS[twin]}
  for number, (video, length) in enumerate(RAVDESS_VIDEOS.items(), start=1):
    videos[f'{video}.mp4'] = length
    names, faces = face_crops(f'frames/{video}', length)
    clips.append(Clip(f'frames/{video}', number, names))
    texts.update(faces)
  return Tree(clips, texts, videos)


def affwild2():
  """Aff-Wild2 videos, EXPR label files, cropped_aligned and face crops."""
  clips, texts = [], {}
  for number, (name, (split, codes)) in enumerate(
    AFFWILD2_LABELS.items(), start=1
  ):
    texts[f'{AFFWILD2_LABEL_DIR}/{split}/{name}.txt'] = ''.join(
      f'{line}\n' for line in [AFFWILD2_HEADER, *codes]
    )
    if name in AFFWILD2_FACE_CROPPED:
      folder = AFFWILD2_FACE_CROPPED[name]
      names, faces = face_crops(folder, len(codes))
      texts.update(faces)
      numbers = range(1, len(codes) + 1)
    else:
      folder = f'cropped_aligned/{name}'
      missing = AFFWILD2_MISSING_FACES.get(name, ())
      numbers = [m for m in range(1, len(codes) + 1) if m not in missing]
      names = tuple(f'{m:05d}.jpg' for m in numbers)
    values = tuple(affwild2_value(m) for m in numbers)
    clips.append(Clip(folder, number, names, values))
  return Tree(clips, texts, AFFWILD2_VIDEOS)


DATASETS = {
  'dfew': dfew,
  'ferv39k': ferv39k,
  'mafw': mafw,
  'ravdess': ravdess,
  'affwild2': affwild2,
}


def openface_csv(clip):
  """The FeatureExtraction CSV of a clip, formatted as OpenFace writes it."""
  track = dummy_clips.expected_track(len(clip.frames), clip.number)
  lines = [OPENFACE_HEADER]
  # OpenFace numbers frames in lexicographic file-name order (1.jpg, 10.jpg,
  # ...), so CSV row `frame` holds the frame whose name sorts there.
  for row, name in enumerate(sorted(clip.frames), start=1):
    i = clip.frames.index(name)
    values = [
      row,
      0,  # face_id
      0,  # timestamp
      track['face_confidence'][i],
      track['face_success'][i],
      *track['au_intensity'][i],
      *track['au_presence'][i],
    ]
    # %g prints whole numbers without a decimal point and rounds the float32
    # values back to the decimals they encode (0.7, not 0.699999988).
    lines.append(', '.join(f'{float(v):g}' for v in values))
  return '\n'.join(lines) + '\n'


def write_frame(path, value):
  """A uniform gray RGB frame; the format follows the file extension."""
  pixels = np.full((FRAME_SIZE, FRAME_SIZE, 3), value, np.uint8)
  options = {'quality': JPEG_QUALITY} if path.suffix == '.jpg' else {}
  Image.fromarray(pixels).save(path, **options)


def write_video(path, num_frames):
  """A tiny mp4v video whose frame n is uniform gray frame_value(n) % 256."""
  fourcc = cv2.VideoWriter_fourcc(*'mp4v')
  size = (VIDEO_SIZE, VIDEO_SIZE)
  writer = cv2.VideoWriter(str(path), fourcc, 25, size)
  if not writer.isOpened():
    raise RuntimeError(f'{path}: OpenCV cannot write mp4v videos')
  for n in range(1, num_frames + 1):
    writer.write(np.full((*size, 3), frame_value(n) % 256, np.uint8))
  writer.release()


def write_tree(root, tree):
  """Writes the videos, frames, OpenFace CSVs and label files of `tree`."""
  for rel, num_frames in tree.videos.items():
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    write_video(root / rel, num_frames)
  for clip in tree.clips:
    folder = root / clip.folder
    folder.mkdir(parents=True, exist_ok=True)
    for n, name in enumerate(clip.frames, start=1):
      value = frame_value(n) if clip.values is None else clip.values[n - 1]
      write_frame(folder / name, value)
    csv_path = pathlib.Path(layout.openface_csv_path(root, folder))
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    csv_path.write_text(openface_csv(clip), newline='\n')
  for rel, text in tree.texts.items():
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, newline='\n')


def main(argv=None):
  parser = argparse.ArgumentParser(
    description=__doc__.split('\n\n')[0],
    epilog='Writes OUT/<dataset>/dummy_data/ for each dataset.',
  )
  parser.add_argument(
    '--out',
    required=True,
    type=pathlib.Path,
    help='output folder; use datasets/tfds_builders to rewrite the checked-in trees',
  )
  parser.add_argument(
    '--datasets',
    default=','.join(DATASETS),
    help='comma-separated subset of %(default)s',
  )
  args = parser.parse_args(argv)
  names = [name for name in args.datasets.split(',') if name]
  unknown = sorted(set(names) - set(DATASETS))
  if unknown:
    parser.error(f'unknown dataset(s) {", ".join(unknown)}')
  for name in names:
    write_tree(args.out / name / 'dummy_data', DATASETS[name]())
  return 0


if __name__ == '__main__':
  sys.exit(main())
