"""One synthetic clip from its seed, and the class labels of a split.

A clip depends only on (config seed, split, index), never on generation
order, so builds are reproducible byte for byte and could run in parallel.
Class counts follow DFEW's single-labelled class totals, with a floor so that
every class appears in every split, however small.
"""

import numpy as np

from tfds_builders.au_faces import annotate
from tfds_builders.au_faces import dynamics
from tfds_builders.au_faces import render
from tfds_builders.au_faces import scene

# DFEW's single-labelled clips per class, in facs.EXPRESSIONS order.
DFEW_CLASS_TOTALS = (2445, 1894, 2669, 2173, 1469, 145, 902)
SPLIT_IDS = {'train': 0, 'test': 1}


def class_counts(num_clips, min_per_class):
  """Clips per class: DFEW's proportions, at least `min_per_class` each.

  Largest-remainder rounding: every count is within 1 of its exact share
  num_clips * p_c, except where the floor lifts a small class (the clips
  it takes come from the classes furthest above their share).
  """
  share = num_clips * np.asarray(DFEW_CLASS_TOTALS) / sum(DFEW_CLASS_TOTALS)
  if num_clips < min_per_class * len(share):
    raise ValueError(
      f'{num_clips} clips cannot hold {min_per_class} per class of '
      f'{len(share)} classes'
    )
  counts = np.maximum(np.floor(share).astype(int), min_per_class)
  while counts.sum() < num_clips:
    counts[np.argmax(share - counts)] += 1
  while counts.sum() > num_clips:
    excess = np.where(counts > min_per_class, counts - share, -np.inf)
    counts[np.argmax(excess)] -= 1
  return counts


def clip_labels(num_clips, min_per_class, seed, split):
  """The expression label of every clip of a split, in clip order."""
  counts = class_counts(num_clips, min_per_class)
  labels = np.repeat(np.arange(len(counts)), counts)
  return np.random.default_rng([seed, SPLIT_IDS[split]]).permutation(labels)


def clip_rng(seed, split, index):
  """The random generator of one clip, independent of all other clips."""
  return np.random.default_rng([seed, SPLIT_IDS[split], index])


def synthesize_clip(rng, label, config):
  """Renders one clip of expression `label` and its OpenFace annotations.

  Args:
    rng: the clip's generator (`clip_rng`).
    label: expression index into `facs.EXPRESSIONS`.
    config: an `AuFacesConfig` (knowledge, image_size, min_frames,
      max_frames, failure_rate, clip_failure_rate).

  Returns:
    A dict with `frames` uint8 [T, H, W, 3], the true `activation` [T, 18],
    and the `annotate.openface_annotations` fields.
  """
  face = render.sample_face(rng)
  surroundings = scene.sample_scene(rng)
  baseline = dynamics.sample_baseline(rng)
  num_frames = int(rng.integers(config.min_frames, config.max_frames + 1))
  activation = dynamics.sample_activations(
    rng, config.knowledge, label, num_frames, baseline
  )
  poses = scene.sample_poses(rng, num_frames)
  size = config.image_size
  background = scene.background_image(surroundings, size)
  light = scene.light_map(surroundings, size)
  frames = np.stack(
    [
      scene.light_and_noise(
        render.render_face(face, act, pose, size, background),
        light,
        surroundings.noise,
        rng,
      )
      for act, pose in zip(activation, poses, strict=True)
    ]
  )
  annotations = annotate.openface_annotations(
    rng, activation, config.failure_rate, config.clip_failure_rate
  )
  return {'frames': frames, 'activation': activation, **annotations}
