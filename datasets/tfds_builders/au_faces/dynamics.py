"""AU activation trajectories of one clip, drawn from a knowledge matrix.

A clip of expression e moves AU j in two ways:
- a tone, an apex amplitude that is a monotone function of K[e, j] (times
  random jitter), so that per-expression statistics of the activations
  recover the ordering of each row of K. It stays mostly below the level at
  which an annotator calls the AU present, as most of an expression's
  AUs do in real clips;
- an occurrence: with probability P[e, j] (`occurrence_rates`), the AU is
  clearly active in the clip (apex amplitude 0.5..1). P gives each AU its
  overall rate in real data (DFEW's, by default) and splits it over the
  expressions in proportion to (K[e, j] / max K)^2, so that the AUs that K
  ranks high for an expression are the ones that occur in its clips.

  tone_j = TONE * f(K[e, j] / max K) * jitter_j * strength
  f(k) = 0.1 k + 0.9 k^3
  amplitude_j = max(tone_j, occurs_j * U(0.5, 1)), clipped to [0, 1]
  activation[t, j] = baseline_j + (1 - baseline_j) * amplitude_j * envelope[t]

The cubic term stretches the top of K (where the expressions differ); the
linear term keeps small entries of K distinct. `envelope` is an
onset-apex-offset profile with random timing; `baseline` is the identity's
resting face.
"""

import numpy as np

from tfds_builders import facs

TONE = 0.45  # apex of the tone at the largest entry of K
MAX_OCCURRENCE = 0.95  # no AU is certain in every clip of an expression


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


def occurrence_rates(knowledge, au_rates, class_shares):
  """P[e, j]: probability that AU j occurs in a clip of expression e, [7, 18].

  Args:
    knowledge: K [7, 18].
    au_rates: [18] the fraction of all clips in which each AU occurs.
    class_shares: [7] the fraction of clips of each expression.

  The rate of AU j is split over the expressions in proportion to
  (K[e, j] / max K)^2, so that sum_e share_e P[e, j] = au_rates[j] (up to
  the cap `MAX_OCCURRENCE`).
  """
  k = knowledge_array(knowledge)
  weight = (k / k.max()) ** 2
  shares = np.asarray(class_shares, np.float64)
  overall = shares @ weight  # [18]; > 0 since K's columns are not all 0
  rates = np.asarray(au_rates, np.float64) * weight / np.maximum(overall, 1e-12)
  return np.minimum(rates, MAX_OCCURRENCE)


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


def sample_activations(
  rng, knowledge, expression, num_frames, baseline, occurrence
):
  """AU activations [T, 18] in [0, 1] of one clip of `expression`.

  `occurrence` is the expression's row of `occurrence_rates`, [18].
  """
  profile = TONE * apex_profile(knowledge)[expression]
  strength = rng.lognormal(0.0, 0.1)
  jitter = rng.lognormal(0.0, 0.15, facs.NUM_AUS)
  tone = profile * jitter * strength
  occurs = rng.uniform(size=facs.NUM_AUS) < occurrence
  apex = np.where(occurs, rng.uniform(0.5, 1.0, facs.NUM_AUS), 0.0)
  amplitude = np.clip(np.maximum(tone, apex), 0.0, 1.0)
  env = envelope(rng, num_frames)
  return baseline + (1.0 - baseline) * amplitude * env[:, None]
