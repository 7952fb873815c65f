"""Command line of the knowledge extraction (paper section 3.1).

Reads the AU annotations of prepared TFDS datasets, runs the steps of
`audfer_jax.method.extraction` and writes K as JSON (usable as
`--config.knowledge`) and a heatmap laid out like the paper's Figure 4:

  python -m audfer_jax.method --dataset au_faces/tiny \\
    --data_dir /tmp/tfds --output /tmp/k.json
"""

import argparse
import logging
import os
import sys
import time

import numpy as np

from audfer_jax import heatmap
from audfer_jax.method import extraction
from audfer_jax.method import knowledge
from audfer_jax.process import quiet_logs
from tfds_builders import facs

_LOG_EVERY = 1000  # clips between two progress lines

_FEATURES = ('clip_id', 'label', 'face_success', 'au_intensity', 'au_valid')


def load_predictions(path):
  """Opens an .npz of per-frame probabilities (clip_id -> [T, C])."""
  try:
    return np.load(path)
  except (OSError, ValueError) as e:
    raise ValueError(f'{path}: cannot read a predictions .npz: {e}') from e


def read_dataset(name, split, data_dir=None):
  """The class names and clips (numpy dicts of `_FEATURES`) of a TFDS split.

  The clips are read lazily, with a progress line every 1000 clips.
  """
  # Imported here: argument errors are reported before TensorFlow loads.
  import tensorflow_datasets as tfds

  from audfer_jax.data import annotations
  from tfds_builders import prepare  # importing registers the builders

  base = name.split('/')[0]
  if base not in prepare.DATASETS:
    raise ValueError(
      f'--dataset {name}: unknown; the datasets are {", ".join(prepare.DATASETS)}'
    )
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except ValueError:  # an unknown config
    configs = [c.name for c in tfds.builder_cls(base).BUILDER_CONFIGS]
    raise ValueError(
      f'--dataset {name}: {base} has no such config; its configs are '
      f'{", ".join(configs)}'
    ) from None
  if not builder.is_prepared():
    raw = None if base == 'au_faces' else f'/path/to/raw/{base}'
    root = data_dir or os.path.expanduser('~/tensorflow_datasets')
    raise ValueError(
      f'--dataset {name}: not prepared in {root}; prepare it with: '
      f'{prepare.command(name, root, raw)}'
    )
  class_names = builder.info.features['label'].names
  total = builder.info.splits[split].num_examples
  # Per-frame labels (Aff-Wild2) replace the clip's label frame by frame.
  per_frame = ('frame_labels',) * ('frame_labels' in builder.info.features)
  clips = annotations.read(builder, split, _FEATURES + per_frame)
  return class_names, _with_progress(clips, f'{name}:{split}', total)


def _with_progress(examples, what, total):
  start = time.time()
  count = 0
  for example in examples:
    yield example
    count += 1
    if count % _LOG_EVERY == 0:
      rate = count / (time.time() - start)
      logging.info('%s: %d / %d clips (%.0f/s)', what, count, total, rate)
  logging.info('%s: %d clips read', what, count)


def extract(datasets, data_dir=None, theta=0.5, fusion_offset=None):
  """Runs steps 1-4 over TFDS datasets.

  Args:
    datasets: list of (name, split, predictions path or None).
    data_dir: the TFDS data directory.
    theta: probability threshold for the datasets with predictions.
    fusion_offset: c of step 4 (None: `extraction.default_fusion_offset`).

  Returns:
    (K [C, 18], class names (the first dataset's), metadata dict).
  """
  matrices, records, class_names = [], [], None
  for name, split, predictions_path in datasets:
    names, clips = read_dataset(name, split, data_dir)
    predictions = None
    if predictions_path:
      predictions = load_predictions(predictions_path)
    try:
      matrix, stats = extraction.extract_dataset(
        clips, names, theta, predictions, source=predictions_path
      )
    except ValueError as e:
      raise ValueError(f'Dataset {name}, split {split}: {e}') from e
    if class_names is None:
      class_names = names
    matrices.append(
      extraction.align_rows(matrix, names, class_names, f'Dataset {name}')
    )
    records.append(
      {
        'name': name,
        'split': split,
        'predictions': predictions_path,
        'class_names': list(names),
        **stats,
        'knowledge': matrix.tolist(),
      }
    )
  if fusion_offset is None:
    fusion_offset = extraction.default_fusion_offset(len(matrices))
  metadata = {
    'datasets': records,
    'theta': theta if any(p for _, _, p in datasets) else None,
    'fusion_offset': fusion_offset,
    'scaling': 'none: centred medians in AU intensity units',
  }
  return extraction.fuse(matrices, fusion_offset), list(class_names), metadata


def save_heatmap(path, matrix, class_names):
  """Draws K like the paper's Figure 4 (expressions x AUs) as a PNG."""
  fig = heatmap.draw_heatmap(
    matrix,
    class_names,
    facs.AU_PRESENCE_NAMES,
    title='AU-expression knowledge K',
    xlabel='action unit',
    ylabel='expression',
    vmin=0.0,
    vmax=1.0,
  )
  fig.savefig(path)


def _parse_args(argv):
  parser = argparse.ArgumentParser(
    prog='python -m audfer_jax.method',
    description=(
      'Extract the AU-expression knowledge matrix K (AU-DFER, section 3.1) '
      'from prepared TFDS datasets; writes K as JSON (usable as the '
      '`knowledge` of a training config) and a heatmap PNG.'
    ),
  )
  parser.add_argument(
    '--dataset',
    action='append',
    required=True,
    help='TFDS name, e.g. au_faces/tiny or dfew/clip_224x224; repeat the flag '
    'for several datasets (their matrices are summed, step 4).',
  )
  parser.add_argument(
    '--split',
    action='append',
    help='split to read: once for all datasets or once per --dataset '
    '(default: train; DFEW and MAFW: e.g. set_1+set_2+set_3+set_4+set_5, '
    'RAVDESS: all or actor_01+...). Use training data only.',
  )
  parser.add_argument('--data_dir', help='TFDS data directory.')
  parser.add_argument(
    '--predictions',
    action='append',
    help='optional .npz of per-frame expression probabilities of a trained '
    'model (clip_id -> [T, C]); once per --dataset, "none" for a dataset '
    'without. Only frames whose probability of the label exceeds --theta '
    'are used.',
  )
  parser.add_argument(
    '--theta',
    type=float,
    default=0.5,
    help='probability threshold for --predictions (default: 0.5).',
  )
  parser.add_argument(
    '--fusion_offset',
    type=float,
    help='c in K = sigmoid(sum_d K_d - c). Default: n / 2 + 0.5 for n >= 2 '
    'datasets (the paper: 2.5 for four); with one dataset K = K_1 as is.',
  )
  parser.add_argument(
    '--output', required=True, help='path of the JSON file to write.'
  )
  parser.add_argument(
    '--heatmap', help='path of the PNG to write (default: --output, .png).'
  )
  args = parser.parse_args(argv)
  n = len(args.dataset)
  args.split = args.split or ['train']
  for flag in ('split', 'predictions'):
    values = getattr(args, flag)
    if values is not None and len(values) not in (1, n):
      parser.error(f'--{flag} given {len(values)} times for {n} datasets')
    if values is not None and len(values) == 1:
      setattr(args, flag, values * n)
  args.predictions = [
    None if p in (None, 'none') else p for p in (args.predictions or [None] * n)
  ]
  return args


def main(argv=None):
  args = _parse_args(argv)
  logging.basicConfig(level=logging.INFO, format='%(message)s')
  logging.getLogger().handlers[0].addFilter(quiet_logs.QuietLibraries())
  try:
    matrix, class_names, metadata = extract(
      list(zip(args.dataset, args.split, args.predictions, strict=True)),
      data_dir=args.data_dir,
      theta=args.theta,
      fusion_offset=args.fusion_offset,
    )
  except ValueError as e:  # a dataset that is unknown, unprepared or empty
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  heatmap_path = args.heatmap or os.path.splitext(args.output)[0] + '.png'
  for path in (args.output, heatmap_path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  knowledge.save_knowledge(args.output, matrix, class_names, **metadata)
  save_heatmap(heatmap_path, matrix, class_names)
  logging.info('Wrote %s and %s', args.output, heatmap_path)


if __name__ == '__main__':
  main(sys.argv[1:])
