r"""Runs OpenFace 2.2.0 FeatureExtraction over every clip folder of a dataset.

  python -m tfds_builders.run_openface --dataset dfew --manual_dir DIR \
      [--workers N] [--binary FeatureExtraction]

The CSV of clip folder `<manual_dir>/<rel>/` is written to
`<manual_dir>/openface/<rel>.csv`, where the builders look for it. The run is
resumable: clips whose CSV exists and has one row per frame are skipped, and
each CSV is written in a temporary folder and renamed into place, so a killed
run leaves no partial CSV behind.
"""

import argparse
from concurrent import futures
import logging
import os
import pathlib
import shutil
import subprocess
import sys
import time

from tfds_builders import layout
from tfds_builders import openface
from tfds_builders.affwild2 import affwild2_dataset_builder
from tfds_builders.dfew import dfew_dataset_builder
from tfds_builders.errors import DatasetLayoutError
from tfds_builders.ferv39k import ferv39k_dataset_builder
from tfds_builders.mafw import mafw_dataset_builder
from tfds_builders.ravdess import ravdess_dataset_builder

FRAME_ROOT_FINDERS = {
  'dfew': dfew_dataset_builder.find_frame_roots,
  'ferv39k': ferv39k_dataset_builder.find_frame_roots,
  'mafw': mafw_dataset_builder.find_frame_roots,
  'ravdess': layout.face_crop_roots,
  'affwild2': affwild2_dataset_builder.find_frame_roots,
  'video_folder': layout.face_crop_roots,
}

INSTALL_HELP = """\
OpenFace's FeatureExtraction binary ({binary!r}) is not on PATH.
Install OpenFace 2.2.0 (https://github.com/TadasBaltrusaitis/OpenFace, see the
wiki pages "Unix-Installation" or "Windows-Installation"), download its models
(download_models.sh), then put the folder holding FeatureExtraction on PATH or
pass --binary /path/to/FeatureExtraction."""


def is_complete(csv_path, clip_dir):
  """Whether `csv_path` parses and has one row per frame of `clip_dir`."""
  if not csv_path.exists():
    return False
  try:
    track = openface.read_csv(csv_path)
  except DatasetLayoutError:
    return False
  return track.num_frames == len(layout.sorted_frames(clip_dir))


def process_clip(binary, manual_dir, clip_dir):
  """Runs FeatureExtraction on one clip; returns 'skipped', 'done' or an error."""
  target = pathlib.Path(layout.openface_csv_path(manual_dir, clip_dir))
  if is_complete(target, clip_dir):
    return 'skipped'
  tmp = target.parent / f'.{target.name}.tmp'
  shutil.rmtree(tmp, ignore_errors=True)  # Left over by a killed run.
  tmp.mkdir(parents=True)
  try:
    result = subprocess.run(
      [binary, '-fdir', str(clip_dir), '-aus', '-out_dir', str(tmp)],
      capture_output=True,
      text=True,
      check=False,
    )
    written = tmp / f'{clip_dir.name}.csv'
    if result.returncode != 0 or not written.exists():
      tail = (result.stderr or result.stdout).strip()[-300:]
      return f'FeatureExtraction exited with {result.returncode}: {tail}'
    if not is_complete(written, clip_dir):
      return f'{written.name}: CSV does not have one row per frame'
    os.replace(written, target)
    return 'done'
  finally:
    shutil.rmtree(tmp, ignore_errors=True)


def run(dataset, manual_dir, workers, binary):
  """Processes every clip folder; returns the {clip folder: error} failures."""
  manual_dir = pathlib.Path(manual_dir)
  resolved = shutil.which(binary)
  if resolved is None:
    sys.exit(INSTALL_HELP.format(binary=binary))
  roots = FRAME_ROOT_FINDERS[dataset](manual_dir)
  if not roots:
    sys.exit(f'{manual_dir}: no {dataset} frame folders found')
  clips = [
    pathlib.Path(c) for root in roots for c in layout.frame_folders(root)
  ]
  if dataset == 'ravdess':  # only the folders the builder reads
    clips, skipped = ravdess_dataset_builder.copies_read(clips)
    if skipped:
      print(ravdess_dataset_builder.skipped_message(skipped, 'frame folders'))
  logging.info('%s: %d clip folders under %s', dataset, len(clips), roots)
  counts = {'done': 0, 'skipped': 0}
  failures = {}
  log_every = max(1, len(clips) // 100)
  start = time.time()
  with futures.ThreadPoolExecutor(workers) as pool:
    jobs = {
      pool.submit(process_clip, resolved, manual_dir, c): c for c in clips
    }
    for i, job in enumerate(futures.as_completed(jobs), start=1):
      status = job.result()
      if status in counts:
        counts[status] += 1
      else:
        failures[jobs[job]] = status
        logging.error('%s: %s', jobs[job], status)
      if i % log_every == 0 or i == len(clips):
        logging.info(
          '%d/%d clips (%d run, %d skipped, %d failed), %.1f clips/s',
          i,
          len(clips),
          counts['done'],
          counts['skipped'],
          len(failures),
          i / max(time.time() - start, 1e-9),
        )
  print(
    f'{dataset}: {counts["done"]} clips processed, {counts["skipped"]} '
    f'already complete, {len(failures)} failed'
  )
  return failures


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--dataset', required=True, choices=FRAME_ROOT_FINDERS)
  parser.add_argument(
    '--manual_dir',
    required=True,
    help='the extracted download (TFDS manual dir)',
  )
  parser.add_argument(
    '--workers',
    type=int,
    default=os.cpu_count(),
    help='FeatureExtraction processes run at once',
  )
  parser.add_argument(
    '--binary',
    default='FeatureExtraction',
    help='name on PATH or path of the OpenFace executable',
  )
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
  failures = run(args.dataset, args.manual_dir, args.workers, args.binary)
  if failures:
    sys.exit(f'{len(failures)} clip(s) failed; rerun to retry them')


if __name__ == '__main__':
  main()
