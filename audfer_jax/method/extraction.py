"""AU-expression knowledge extraction (paper section 3.1), in numpy.

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

Every function here works on numpy arrays; the command line
(`python -m audfer_jax.method`, `__main__.py`) reads the clips from TFDS.
"""

import numpy as np

from audfer_jax.method import knowledge


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
  probability of `label` (the clip's, or one per frame [T]) is above `theta`.
  """
  keep = np.asarray(success, dtype=bool)
  if probabilities is not None:
    probabilities = np.asarray(probabilities)
    labels = np.broadcast_to(label, keep.shape)
    keep = keep & (probabilities[np.arange(len(keep)), labels] > theta)
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
  return np.insert(scores, knowledge.AU28_INDEX, scores.mean(), axis=1)


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
      `face_success` [T], `au_intensity` [T, 17], `au_valid` (bool), and
      optionally `frame_labels` [T] (Aff-Wild2's per-frame classes, -1 for
      none), which then replace `label` frame by frame, frames labelled -1
      left out. Clips with `au_valid` false (no OpenFace output) are skipped.
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
    frame_labels = np.broadcast_to(
      clip.get('frame_labels', clip['label']), success.shape
    )
    labelled = frame_labels >= 0
    keep = labelled & select_frames(
      success, probabilities, np.where(labelled, frame_labels, 0), theta
    )
    frames.append(interpolate_zeros(clip['au_intensity'], success)[keep])
    labels.append(frame_labels[keep])
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


def align_rows(matrix, names, target_names, what):
  """Rows of `matrix` re-ordered from `names` to `target_names`."""
  canonical = [knowledge.canonical_class_name(n) for n in names]
  wanted = [knowledge.canonical_class_name(n) for n in target_names]
  if sorted(canonical) != sorted(wanted):
    raise ValueError(
      f'{what} has the classes {list(names)}, the first dataset '
      f'{list(target_names)}: all datasets must have the same classes.'
    )
  return matrix[[canonical.index(n) for n in wanted]]
