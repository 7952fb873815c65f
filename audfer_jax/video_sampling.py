"""Temporal sampling: which frames of a clip each model sees (tf, in graph).

All functions take the clip length `n` (a scalar int32 tensor) and return
int32 frame indices; random ones take a stateless seed (shape [2]) so a run
is reproducible and resumable.
"""

import tensorflow as tf


def segment_indices(n, num_segments, frames_per_segment, seed=None):
  """TSN sampling: `frames_per_segment` consecutive frames per segment.

  M3DFEL uses 16 x 1, Former-DFER 8 x 2. Training (`seed` given) starts each
  run of frames at a random offset inside its segment; evaluation takes the
  segment centre, so test results are deterministic. (The reference M3DFEL
  jitters by up to 15 frames even at test time; we do not copy that.)

  Returns:
    [num_segments * frames_per_segment] indices in [0, n).
  """
  n = tf.cast(n, tf.float32)
  span = tf.maximum(n - frames_per_segment + 1, 1.0)
  length = span / num_segments
  starts = tf.range(num_segments, dtype=tf.float32) * length
  if seed is None:
    offsets = tf.fill([num_segments], (length - 1) / 2)
  else:
    u = tf.random.stateless_uniform([num_segments], seed)
    offsets = tf.floor(u * tf.maximum(length, 1.0))
  first = tf.floor(starts + tf.maximum(offsets, 0.0))
  idx = first[:, None] + tf.range(frames_per_segment, dtype=tf.float32)
  idx = tf.clip_by_value(tf.reshape(idx, [-1]), 0.0, n - 1)
  return tf.cast(idx, tf.int32)


def window_indices(n, num_frames, rate, seed):
  """MAE-DFER training: `num_frames` evenly spaced in a random window.

  The window spans `num_frames * rate` frames at a random start. When the
  clip is shorter the indices spread over the whole clip (VideoMAE's
  `_sample_train_indices`).
  """
  n_f = tf.cast(n, tf.float32)
  window = float(num_frames * rate)
  room = tf.maximum(n_f - window, 0.0)
  start = tf.floor(tf.random.stateless_uniform([], seed) * (room + 1))
  end = tf.minimum(start + window, n_f) - 1
  idx = tf.linspace(start, tf.maximum(end, start), num_frames)
  return tf.clip_by_value(tf.cast(idx, tf.int32), 0, n - 1)


def strided_views(n, num_frames, rate, num_views):
  """MAE-DFER test clips: the frames at stride `rate`, first/last clip.

  The strided list is padded with its last frame to at least `num_frames`;
  view 0 is its first `num_frames` entries and the last view its last ones
  (evenly spaced starts in between for more views).

  Returns:
    [num_views, num_frames] indices.
  """
  strided = tf.range(0, n, rate)
  pad = tf.maximum(num_frames - tf.size(strided), 0)
  strided = tf.concat([strided, tf.fill([pad], strided[-1])], 0)
  last_start = tf.size(strided) - num_frames
  if num_views == 1:
    starts = tf.reshape(last_start // 2, [1])
  else:
    starts = tf.cast(
      tf.round(tf.linspace(0.0, tf.cast(last_start, tf.float32), num_views)),
      tf.int32,
    )
  return tf.gather(strided, starts[:, None] + tf.range(num_frames))
