"""AU activation trajectories of one clip, drawn from a knowledge matrix.

A clip of expression e activates AU j with an apex amplitude that is a
monotone function of K[e, j] (times random jitter), so that per-expression
statistics of the activations recover the ordering of each row of K:

  amplitude_j = clip(f(K[e, j] / max K) * jitter_j * strength, 0, 1)
  f(k) = 0.1 k + 0.9 k^3
  activation[t, j] = baseline_j + (1 - baseline_j) * amplitude_j * envelope[t]

The cubic term stretches the top of K (where the expressions differ) into
clearly visible movements; the linear term keeps small entries of K distinct.
`envelope` is an onset-apex-offset profile with random timing; `baseline` is
the identity's resting face.
"""

import numpy as np

from tfds_builders import facs


def knowledge_array(knowledge):
  """K as a float array [7, 18], checked."""
  k = np.asarray(knowledge, np.float64)
  shape = (facs.NUM_EXPRESSIONS, facs.NUM_AUS)
  if k.shape != shape:
    raise ValueError(f'knowledge must be {shape}, got {k.shape}')
  if not np.all(np.isfinite(k)) or k.min() < 0 or k.max() <= 0:
    raise ValueError('knowledge values must be finite, >= 0, not all 0')
  return k


def apex_profile(knowledge):
  """The expected apex activation of every (expression, AU): f(K / max K)."""
  k = knowledge_array(knowledge)
  k = k / k.max()
  return 0.1 * k + 0.9 * k**3


def envelope(rng, num_frames):
  """Onset-apex-offset profile [T] in [0, 1] with random timing.

  The clip may start during the onset and end before the offset is over,
  but the apex always falls inside the clip.
  """
  onset_start = rng.uniform(-0.15, 0.25)
  onset = rng.uniform(0.1, 0.3)
  apex = rng.uniform(0.2, 0.5)
  offset = rng.uniform(0.15, 0.4)
  u = np.linspace(0.0, 1.0, num_frames)
  rise = np.clip((u - onset_start) / onset, 0.0, 1.0)
  fall = np.clip((u - onset_start - onset - apex) / offset, 0.0, 1.0)

  def smoothstep(x):
    return x * x * (3.0 - 2.0 * x)

  return smoothstep(rise) * (1.0 - smoothstep(fall))


def sample_baseline(rng):
  """An identity's resting activation of every AU, [18]."""
  return rng.uniform(0.0, 0.05) * rng.uniform(0.6, 1.4, facs.NUM_AUS)


def sample_activations(rng, knowledge, expression, num_frames, baseline):
  """AU activations [T, 18] in [0, 1] of one clip of `expression`."""
  profile = apex_profile(knowledge)[expression]
  strength = rng.lognormal(0.0, 0.1)
  jitter = rng.lognormal(0.0, 0.15, facs.NUM_AUS)
  amplitude = np.clip(profile * jitter * strength, 0.0, 1.0)
  env = envelope(rng, num_frames)
  return baseline + (1.0 - baseline) * amplitude * env[:, None]
