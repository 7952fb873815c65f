"""AU-expression knowledge extraction (paper section 3.1), library and CLI.

Per dataset d, from the OpenFace AU intensities (0..5) of its clips:
  1. Zero intensities are filled by linear interpolation in time within each
     clip (eq. 1), over the successfully tracked frames only (frames with
     `face_success` false are dropped entirely). A zero with no non-zero value
     on one side (at the clip border) takes the nearest non-zero value; an AU
     that is zero in every tracked frame of the clip stays zero.
  2. With per-frame expression probabilities from a trained model, only the
     frames whose probability of the clip's label exceeds theta are kept
     (all tracked frames otherwise).
  3. K_d = the per-expression median of each of the 17 intensities, [C, 17].
     It is centred by (max + min) / 2 with max and min over the WHOLE matrix
     and squashed by a sigmoid. It is NOT rescaled: the centred score stays in
     intensity units, |score| <= 2.5. This matches the upstream `K_DFEW_v1`,
     whose logit is symmetric, spanning +-2.07 (an intensity range of 4.15).
     AU28 has no intensity; its column is sigmoid(mean of all the other
     centred scores), the same for every expression, which reproduces the
     upstream AU28 column exactly (see the tests).
  4. Over datasets: K = sigmoid(sum_d K_d - c). The paper uses c = 2.5 for four
     datasets; by default c = n / 2 + 0.5 (2.5 for n = 4). With ONE dataset and
     no explicit c, K = K_1 unchanged: it already is a sigmoid of a centred
     score, and sigmoid(K_1 - c) would only squeeze it into a narrow band.

The numeric steps are pure numpy functions; `read_clips` is the TFDS reader.

Command line (writes the JSON for `--config.knowledge` and a heatmap PNG):
  python -m audfer_jax.knowledge --dataset au_faces/tiny --data_dir /tmp/tfds \
    --output /tmp/k.json
"""

import argparse
import logging
import os
import sys
import time

import numpy as np

from audfer_jax import au
from audfer_jax import heatmap

_LOG_EVERY = 1000  # clips between two progress lines

_FEATURES = ('clip_id', 'label', 'face_success', 'au_intensity', 'au_valid')


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def interpolate_zeros(intensity, success):
  """Eq. 1: fills zero AU intensities by linear interpolation in time.

  Args:
    intensity: [T, 17] AU intensities of one clip.
    success: [T] bool, OpenFace tracking success per frame.

  Returns:
    [T, 17] float64. Tracked frames have their zeros filled from the nearest
    non-zero tracked frames before and after (the nearest one alone at the
    clip border; columns without any non-zero value stay zero). Untracked
    rows are returned unchanged and must be dropped by the caller.
  """
  values = np.array(intensity, dtype=np.float64)
  tracked = np.flatnonzero(np.asarray(success, dtype=bool))
  for j in range(values.shape[1]):
    column = values[tracked, j]
    known = column != 0
    if known.all() or not known.any():
      continue
    # np.interp holds the end values outside the known range: the border rule.
    column[~known] = np.interp(tracked[~known], tracked[known], column[known])
    values[tracked, j] = column
  return values


def select_frames(success, probabilities=None, label=None, theta=0.5):
  """Step 2: the frames to use, bool [T].

  Tracked frames only; with `probabilities` [T, C] also only those whose
  probability of `label` is above `theta`.
  """
  keep = np.asarray(success, dtype=bool)
  if probabilities is not None:
    keep = keep & (np.asarray(probabilities)[:, label] > theta)
  return keep


def class_medians(frames, labels, class_names):
  """Step 3a: K_d [C, 17], the per-class median of each AU over `frames`.

  Args:
    frames: [N, 17] intensities of the kept frames of all clips.
    labels: [N] the label of each frame's clip.
    class_names: the C classes (for the error message).

  Raises:
    ValueError: when a class has no kept frame.
  """
  frames = np.asarray(frames, dtype=np.float64)
  labels = np.asarray(labels)
  empty = [n for c, n in enumerate(class_names) if not np.any(labels == c)]
  if empty:
    raise ValueError(
      f'No usable frame for the classes {empty}: no valid clip, or no frame '
      'passed the probability threshold theta (lower it).'
    )
  return np.stack(
    [np.median(frames[labels == c], axis=0) for c in range(len(class_names))]
  )


def centre(medians):
  """Step 3b: subtracts (max + min) / 2 of the whole matrix (no rescaling)."""
  medians = np.asarray(medians, dtype=np.float64)
  return medians - (medians.max() + medians.min()) / 2


def insert_au28(scores):
  """Step 3c: [C, 17] -> [C, 18], AU28 = the mean of all the other scores."""
  scores = np.asarray(scores, dtype=np.float64)
  return np.insert(scores, au.AU28_INDEX, scores.mean(), axis=1)


def dataset_knowledge(medians):
  """Steps 3b, 3c and the sigmoid: K_d [C, 17] medians -> [C, 18] in (0, 1)."""
  return _sigmoid(insert_au28(centre(medians)))


def default_fusion_offset(num_datasets):
  """c of step 4: n / 2 + 0.5 (the paper's 2.5 for four); None for one."""
  return None if num_datasets == 1 else num_datasets / 2 + 0.5


def fuse(matrices, offset=None):
  """Step 4: sigmoid(sum of the per-dataset K - offset).

  With `offset` None, `default_fusion_offset` decides (a single matrix is
  then returned unchanged).
  """
  matrices = np.asarray(matrices, dtype=np.float64)
  if offset is None:
    offset = default_fusion_offset(len(matrices))
    if offset is None:
      return matrices[0]
  return _sigmoid(matrices.sum(axis=0) - offset)


def extract_dataset(
  clips, class_names, theta=0.5, predictions=None, source='predictions'
):
  """Steps 1-3 over one dataset.

  Args:
    clips: iterable of dicts with numpy `clip_id` (str), `label` (int),
      `face_success` [T], `au_intensity` [T, 17], `au_valid` (bool). Clips with
      `au_valid` false (no OpenFace output) are skipped.
    class_names: the dataset's classes, in label order.
    theta: the probability threshold (used with `predictions` only).
    predictions: None, or a mapping clip_id -> [T, C] per-frame expression
      probabilities (for example an `np.load`ed .npz file).
    source: names `predictions` in error messages.

  Returns:
    (K_d [C, 18], stats dict with clip and per-class frame counts).
  """
  frames, labels = [], []
  num_clips = num_used = 0
  for clip in clips:
    num_clips += 1
    if not clip['au_valid']:
      continue
    num_used += 1
    success = np.asarray(clip['face_success'], dtype=bool)
    probabilities = None
    if predictions is not None:
      probabilities = _clip_predictions(
        predictions, source, clip, len(class_names)
      )
    keep = select_frames(success, probabilities, clip['label'], theta)
    values = interpolate_zeros(clip['au_intensity'], success)[keep]
    frames.append(values)
    labels.append(np.full(len(values), clip['label']))
  if not frames:
    raise ValueError(f'None of the {num_clips} clips has AU annotations.')
  labels = np.concatenate(labels)
  medians = class_medians(np.concatenate(frames), labels, class_names)
  stats = {
    'num_clips': num_clips,
    'num_clips_with_aus': num_used,
    'num_frames_per_class': np.bincount(
      labels, minlength=len(class_names)
    ).tolist(),
  }
  return dataset_knowledge(medians), stats


def _clip_predictions(predictions, source, clip, num_classes):
  """The [T, C] probabilities of one clip, checked."""
  clip_id = clip['clip_id']
  if clip_id not in predictions:
    raise ValueError(f'{source}: no entry for clip {clip_id!r}')
  probabilities = np.asarray(predictions[clip_id])
  expected = (len(clip['face_success']), num_classes)
  if probabilities.shape != expected:
    raise ValueError(
      f'{source}: entry {clip_id!r} has shape {probabilities.shape}, '
      f'expected [T, C] = {expected}'
    )
  return probabilities


def load_predictions(path):
  """Opens an .npz of per-frame probabilities (clip_id -> [T, C])."""
  try:
    return np.load(path)
  except (OSError, ValueError) as e:
    raise ValueError(f'{path}: cannot read a predictions .npz: {e}') from e


def read_clips(name, split, data_dir=None, features=_FEATURES):
  """Reads a prepared TFDS dataset without decoding the video frames.

  Returns:
    (class names, iterator of numpy dicts with `features`; `clip_id` as str),
    logging progress every 1000 clips.
  """
  # Imported here: the numeric steps and `load_knowledge` users need no TF.
  import tensorflow_datasets as tfds

  import tfds_builders  # noqa: F401 (registers the builders)

  builder = tfds.builder(name, data_dir=data_dir)
  class_names = builder.info.features['label'].names
  total = builder.info.splits[split].num_examples
  dataset = builder.as_dataset(
    split=split,
    decoders=tfds.decode.PartialDecoding({k: True for k in features}),
  )
  return class_names, _with_progress(
    tfds.as_numpy(dataset), f'{name}:{split}', total
  )


def _with_progress(examples, what, total):
  start = time.time()
  count = 0
  for example in examples:
    if 'clip_id' in example:
      example['clip_id'] = example['clip_id'].decode()
    yield example
    count += 1
    if count % _LOG_EVERY == 0:
      rate = count / (time.time() - start)
      logging.info('%s: %d / %d clips (%.0f/s)', what, count, total, rate)
  logging.info('%s: %d clips read', what, count)


def _align(matrix, names, target_names, what):
  """Rows of `matrix` re-ordered from `names` to `target_names`."""
  canonical = [au.canonical_class_name(n) for n in names]
  wanted = [au.canonical_class_name(n) for n in target_names]
  if sorted(canonical) != sorted(wanted):
    raise ValueError(
      f'{what} has the classes {list(names)}, the first dataset '
      f'{list(target_names)}: all datasets must have the same classes.'
    )
  return matrix[[canonical.index(n) for n in wanted]]


def extract(datasets, data_dir=None, theta=0.5, fusion_offset=None):
  """Runs steps 1-4 over TFDS datasets.

  Args:
    datasets: list of (name, split, predictions path or None).
    data_dir: the TFDS data directory.
    theta: probability threshold for the datasets with predictions.
    fusion_offset: c of step 4 (None: `default_fusion_offset`).

  Returns:
    (K [C, 18], class names (the first dataset's), metadata dict).
  """
  matrices, records, class_names = [], [], None
  for name, split, predictions_path in datasets:
    names, clips = read_clips(name, split, data_dir)
    predictions = None
    if predictions_path:
      predictions = load_predictions(predictions_path)
    try:
      matrix, stats = extract_dataset(
        clips, names, theta, predictions, source=predictions_path
      )
    except ValueError as e:
      raise ValueError(f'Dataset {name}, split {split}: {e}') from e
    if class_names is None:
      class_names = names
    matrices.append(_align(matrix, names, class_names, f'Dataset {name}'))
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
    fusion_offset = default_fusion_offset(len(matrices))
  metadata = {
    'datasets': records,
    'theta': theta if any(p for _, _, p in datasets) else None,
    'fusion_offset': fusion_offset,
    'scaling': 'none: centred medians in AU intensity units',
  }
  return fuse(matrices, fusion_offset), list(class_names), metadata


def save_heatmap(path, matrix, class_names):
  """Draws K like the paper's Figure 4 (expressions x AUs) as a PNG."""
  fig = heatmap.draw_heatmap(
    matrix,
    class_names,
    au.AU_PRESENCE_NAMES,
    title='AU-expression knowledge K',
    xlabel='action unit',
    ylabel='expression',
    vmin=0.0,
    vmax=1.0,
  )
  fig.savefig(path)


def _parse_args(argv):
  parser = argparse.ArgumentParser(
    prog='python -m audfer_jax.knowledge',
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
    '(default: train). Use training data only.',
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
  matrix, class_names, metadata = extract(
    list(zip(args.dataset, args.split, args.predictions, strict=True)),
    data_dir=args.data_dir,
    theta=args.theta,
    fusion_offset=args.fusion_offset,
  )
  heatmap_path = args.heatmap or os.path.splitext(args.output)[0] + '.png'
  for path in (args.output, heatmap_path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  au.save_knowledge(args.output, matrix, class_names, **metadata)
  save_heatmap(heatmap_path, matrix, class_names)
  logging.info('Wrote %s and %s', args.output, heatmap_path)


if __name__ == '__main__':
  main(sys.argv[1:])
