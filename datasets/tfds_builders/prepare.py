"""Prepares a dataset once, without Apache Beam.

  python -m tfds_builders.prepare dfew/clip_224x224 \
      --manual_dir /path/to/raw/dfew [--data_dir ~/tensorflow_datasets] \
      [--workers N]

`tfds build` imports Apache Beam for these builders, which the project does
not install; this calls the builder's `download_and_prepare` directly.
"""

import argparse
import os
import shlex
import sys

DATASETS = (
  'au_faces',
  'dfew',
  'ferv39k',
  'mafw',
  'ravdess',
  'affwild2',
  'video_folder',
)


# The entry of a dataset's metadata that names the folder it was prepared
# from (builders of one's own folders, whose data dir may hold another).
SOURCE = 'manual_dir'


def prepared_elsewhere(builder, manual_dir):
  """Why a prepared dataset is not that of `manual_dir`, or None.

  A builder of one's own folder (video_folder) records the folder it was
  prepared from; TFDS prepares a dataset once per data dir, so another
  folder given later would silently read the first one.
  """
  metadata = builder.info.metadata
  if not manual_dir or metadata is None:
    return None
  try:  # [] reads TFDS's lazily loaded metadata, .get() does not
    source = metadata[SOURCE]
  except KeyError:
    return None
  if os.path.realpath(os.path.expanduser(manual_dir)) == source:
    return None
  return (
    f'{builder.data_dir} holds {builder.info.full_name} prepared from '
    f'{source}, not {manual_dir}: give each folder its own data dir, or '
    'delete that directory to prepare it again'
  )


def command(dataset, data_dir, manual_dir=None):
  """The command line that prepares `dataset`, runnable as printed."""
  argv = [sys.executable, '-m', 'tfds_builders.prepare', dataset]
  argv += ['--data_dir', data_dir]
  if manual_dir:
    argv += ['--manual_dir', manual_dir]
  return shlex.join(argv)


def _fail(message):
  print(f'error: {message}', file=sys.stderr)
  sys.exit(2)


def main(argv=None):
  parser = argparse.ArgumentParser(
    prog='python -m tfds_builders.prepare',
    description='Prepares a TFDS dataset of tfds_builders from its raw files.',
  )
  parser.add_argument(
    'dataset', help="'name' or 'name/config', e.g. dfew/clip_224x224"
  )
  parser.add_argument(
    '--manual_dir', default='', help='the raw files (none for au_faces)'
  )
  parser.add_argument(
    '--data_dir',
    default=os.environ.get('TFDS_DATA_DIR', '~/tensorflow_datasets'),
    help='where TFDS writes it',
  )
  parser.add_argument(
    '--workers',
    type=int,
    default=None,
    help='processes that read and check (au_faces: render) the clips while '
    'this one writes them (the same files as with 1); default: one per CPU, '
    'fewer for small datasets',
  )
  parser.error = _fail  # one line, exit code 2, as the other mistakes
  args = parser.parse_args(argv)
  name = args.dataset.split('/')[0]
  if name not in DATASETS:
    _fail(f'unknown dataset {args.dataset!r}; the datasets are {DATASETS}')
  manual_dir = os.path.expanduser(args.manual_dir)
  if name != 'au_faces' and not manual_dir:
    _fail(f'{name} needs --manual_dir, the folder of its raw files')
  if manual_dir and not os.path.isdir(manual_dir):
    _fail(f'--manual_dir {args.manual_dir}: no such directory')
  if args.workers is not None and args.workers < 1:
    _fail(f'--workers {args.workers}: must be >= 1')
  data_dir = os.path.expanduser(args.data_dir)

  import tensorflow_datasets as tfds

  import tfds_builders

  try:  # workers None: one per CPU, fewer for small datasets
    builder = tfds.builder(
      args.dataset, data_dir=data_dir, workers=args.workers
    )
  except ValueError as e:  # an unknown config, listing the known ones
    _fail(str(e).splitlines()[0])
  stale = prepared_elsewhere(builder, manual_dir)
  if stale:
    _fail(stale)
  print(f'Preparing {args.dataset} in {builder.data_dir}', flush=True)
  try:
    builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(
        manual_dir=manual_dir or None
      )
    )
  except tfds_builders.DatasetLayoutError as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  print(f'Prepared {args.dataset}: {builder.data_dir}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
