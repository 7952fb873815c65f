"""One synthetic clip from its seed, and the class labels of a split.

A clip depends only on (config seed, split, index), never on generation
order, so builds are reproducible byte for byte and could run in parallel.
Class counts follow DFEW's single-labelled class totals, with a floor so that
every class appears in every split, however small; each AU occurs in about
the fraction of clips that it does in DFEW.
"""

import numpy as np

from tfds_builders.au_faces import annotate
from tfds_builders.au_faces import dynamics
from tfds_builders.au_faces import render
from tfds_builders.au_faces import scene

# DFEW's single-labelled clips per class, in facs.EXPRESSIONS order.
DFEW_CLASS_TOTALS = (2445, 1894, 2669, 2173, 1469, 145, 902)
# The fraction of DFEW clips in which each AU is present (facs.AU_PRESENCE_NAMES
# order): 1 / (1 + pos_weight) of the AU-DFER reference code's DFEW `global`
# pos_weight table (neg / pos per AU), rounded.
# fmt: off
DFEW_AU_RATES = (
  0.1096, 0.0877, 0.4926, 0.3442, 0.1669, 0.2548, 0.0308, 0.2862, 0.1186,
  0.2779, 0.1672, 0.2573, 0.0760, 0.1332, 0.1639, 0.0937, 0.0098, 0.1054,
)
# fmt: on
SPLIT_IDS = {'train': 0, 'test': 1}


def class_counts(num_clips, min_per_class):
  """Clips per class: DFEW's proportions, at least `min_per_class` each.

  Largest-remainder rounding: every count is within 1 of its exact share
  num_clips * p_c, except where the floor lifts a small class (the clips
  it takes come from the classes furthest above their share).
  """
  share = num_clips * class_shares()
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


def class_shares():
  """The fraction of clips of each expression, DFEW's, [7]."""
  return np.asarray(DFEW_CLASS_TOTALS) / sum(DFEW_CLASS_TOTALS)


def clip_labels(num_clips, min_per_class, seed, split):
  """The expression label of every clip of a split, in clip order."""
  counts = class_counts(num_clips, min_per_class)
  labels = np.repeat(np.arange(len(counts)), counts)
  return np.random.default_rng([seed, SPLIT_IDS[split]]).permutation(labels)


def clip_rng(seed, split, index):
  """The random generator of one clip, independent of all other clips."""
  return np.random.default_rng([seed, SPLIT_IDS[split], index])


def clip_aus(rng, label, config):
  """The AU side of one clip: its length, AU activations and annotations.

  Args:
    rng: the clip's AU generator (the first of `clip_rng(...).spawn(2)`).
    label: expression index into `facs.EXPRESSIONS`.
    config: an `AuFacesConfig` (knowledge, au_rates, min_frames,
      max_frames, failure_rate, clip_failure_rate).

  Returns:
    A dict with the true `activation` [T, 18] and the
    `annotate.openface_annotations` fields.
  """
  baseline = dynamics.sample_baseline(rng)
  num_frames = int(rng.integers(config.min_frames, config.max_frames + 1))
  occurrence = dynamics.occurrence_rates(
    config.knowledge, config.au_rates, class_shares()
  )
  activation = dynamics.sample_activations(
    rng, config.knowledge, label, num_frames, baseline, occurrence[label]
  )
  annotations = annotate.openface_annotations(
    rng, activation, config.failure_rate, config.clip_failure_rate
  )
  return {'activation': activation, **annotations}


def synthesize_clip(rng, label, config):
  """Renders one clip of expression `label` and its OpenFace annotations.

  Args:
    rng: the clip's generator (`clip_rng`).
    label: expression index into `facs.EXPRESSIONS`.
    config: an `AuFacesConfig`.

  Returns:
    A dict with `frames` uint8 [T, H, W, 3] and the `clip_aus` fields.
  """
  # Separate streams: the AUs (and so the labels) can be drawn without
  # rendering, and do not depend on how the face is drawn.
  au_rng, look_rng = rng.spawn(2)
  aus = clip_aus(au_rng, label, config)
  face = render.sample_face(look_rng)
  surroundings = scene.sample_scene(look_rng)
  poses = scene.sample_poses(look_rng, len(aus['activation']))
  size = config.image_size
  background = scene.background_image(surroundings, size)
  light = scene.light_map(surroundings, size)
  frames = np.stack(
    [
      scene.light_and_noise(
        render.render_face(face, act, pose, size, background),
        light,
        surroundings.noise,
        look_rng,
      )
      for act, pose in zip(aus['activation'], poses, strict=True)
    ]
  )
  return {'frames': frames, **aus}
