r"""Crops the face of every frame of a video, or of every video in a folder.

  python -m tfds_builders.face_crop --input PATH --output DIR \
      [--size 224] [--workers N]
  python -m tfds_builders.face_crop --manual_dir DIR  # --output DIR/frames

The video `<input>/<rel>/<stem>.<ext>` (mp4, avi, mov, mkv, flv, webm; folders are searched
recursively) becomes the folder `<output>/<rel>/<stem>/` of 224 x 224 JPEG
face crops, one per frame, with `faces.csv`. Resumable: finished folders
are skipped, and a killed run leaves no partial folder. With --manual_dir,
only the videos a builder reads are cropped: of a RAVDESS recording present
as audio-video (01-*) and video-only (02-*) copies, the audio-video one.
"""

import argparse
import logging
import pathlib
import sys

from tfds_builders import layout
from tfds_builders import workers
from tfds_builders.face_crop import VIDEO_SUFFIXES
from tfds_builders.ravdess import ravdess_dataset_builder


def fail(message):
  """A command-line mistake: one line on stderr, exit code 2."""
  print(f'error: {message}', file=sys.stderr)
  sys.exit(2)


def main(argv=None):
  parser = argparse.ArgumentParser(
    description=__doc__.split('\n')[0],
    formatter_class=argparse.RawDescriptionHelpFormatter,
    epilog=__doc__.split('\n', 2)[2],
  )
  parser.add_argument('--input', help='a video, or a folder of videos')
  parser.add_argument('--output', help='the folder the clip folders go to')
  parser.add_argument(
    '--manual_dir',
    help='a dataset folder: --input DIR --output DIR/frames (its frames/, '
    'openface/ and cropped_aligned/ are not searched)',
  )
  parser.add_argument('--size', type=int, default=224, help='crop side (px)')
  parser.add_argument(
    '--margin',
    type=float,
    default=0.2,
    help='margin around the detected face, a fraction of its side',
  )
  parser.add_argument(
    '--window',
    type=int,
    default=9,
    help='frames the box is smoothed over (odd; 1: no smoothing)',
  )
  parser.add_argument(
    '--workers',
    type=int,
    default=workers.cpu_count(),
    help='videos processed at once (default: one per CPU)',
  )
  parser.error = fail  # one line, exit code 2, as the other mistakes
  args = parser.parse_args(argv)
  if args.manual_dir:
    if args.input or args.output:
      fail('--manual_dir replaces --input and --output: give one or the other')
    root = pathlib.Path(args.manual_dir)
    args.input, args.output = root, root / layout.FACE_CROP_DIRNAME
  if not args.input or not args.output:
    fail('--input and --output (or --manual_dir) are required')
  if args.size < 8 or args.workers < 1 or args.window < 1 or args.margin < 0:
    fail('--size must be >= 8, --workers and --window >= 1, --margin >= 0')
  if args.window % 2 == 0:
    fail(f'--window {args.window}: must be odd (centred on each frame)')
  source = pathlib.Path(args.input)
  if not source.exists():
    fail(f'--input {source}: no such file or folder')
  if source.is_file() and not source.name.lower().endswith(VIDEO_SUFFIXES):
    fail(f'--input {source}: not a video ({", ".join(VIDEO_SUFFIXES)})')
  try:
    from tfds_builders.face_crop import batch
    from tfds_builders.face_crop import crop
  except ImportError as e:
    fail(
      f'{e}: the face crops need OpenCV; pip install "dfer-datasets[video]" '
      '(opencv-python-headless<5)'
    )
  videos = batch.find_videos(source)
  if not videos:
    fail(f'--input {source}: no {"/".join(VIDEO_SUFFIXES)} file in it')
  if args.manual_dir:  # only the videos a builder reads
    videos, skipped = ravdess_dataset_builder.copies_read(videos)
    if skipped:
      print(ravdess_dataset_builder.skipped_message(skipped, 'copies'))
  try:
    jobs = batch.targets(videos, source, args.output)
  except ValueError as e:
    fail(str(e))
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
  logging.info('%d videos under %s -> %s', len(jobs), source, args.output)
  failures = batch.run(jobs, args.workers, args.size, args.margin, args.window)
  unreadable = [
    v for v, e in failures.items() if not isinstance(e, crop.NoFaceError)
  ]
  if unreadable:
    sys.exit(f'{len(unreadable)} video(s) could not be decoded (listed above)')


if __name__ == '__main__':
  main()
