"""Temporal sampling: which frames of a clip each model sees (tf, in graph).

Two kinds: the samplers of the published code, reproduced with their quirks
so a config can train as the authors did (`m3dfel_upstream_indices`,
`mae_dfer_upstream_indices`, `former_dfer_upstream_indices`, `all_frames`),
and clean ones (`segment_indices`, `window_indices`). `strided_views` is
MAE-DFER's test loader, used by both kinds.

All functions take the clip length `n` (a scalar int32 tensor) and return
int32 frame indices; random ones take a stateless seed (shape [2]) so a run
is reproducible and resumable.
"""

import tensorflow as tf


def segment_indices(n, num_segments, frames_per_segment, seed=None):
  """Clean TSN: `frames_per_segment` consecutive frames per segment.

  For M3DFEL 16 x 1, for Former-DFER 8 x 2. Training (`seed` given) starts
  each run of frames at a random offset inside its segment; evaluation
  takes the segment centre, so test results are deterministic. Unlike the
  published TSN sampler (`former_dfer_upstream_indices`) the segments have
  a fractional length, so they cover the whole clip, and short clips spread
  their frames evenly. M3DFEL's published sampler is
  `m3dfel_upstream_indices`.

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
  """MAE-DFER training, clean: `num_frames` evenly spaced in a random window.

  The window spans `num_frames * rate` frames at a random start. When the
  clip is shorter the indices spread over the whole clip. The published
  sampler, and how it differs, is `mae_dfer_upstream_indices`.
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
  view 0 is its first `num_frames` entries and the last view its last ones,
  view k starting at `int(k * (L - num_frames) / (num_views - 1))` for a
  list of L: sunlicai/MAE-DFER `kinetics.py`, `VideoClsDatasetFrame`
  `load_video` and `__getitem__` in 'test' mode, with `test_num_segment`
  views. One view (upstream divides by zero) is the middle clip.

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
    step = tf.cast(last_start, tf.float64) / (num_views - 1)
    starts = tf.cast(tf.range(num_views, dtype=tf.float64) * step, tf.int32)
  return tf.gather(strided, starts[:, None] + tf.range(num_frames))


def clip_seed(frames, seed):
  """A seed of the clip's own: `seed` and a hash of its first JPEG frame.

  Test-time jitter (`m3dfel_upstream_indices`) drawn with it is the same in
  every evaluation of a clip, and differs from clip to clip.
  """
  digest = tf.strings.to_hash_bucket_fast(frames[0], 2**62)
  return tf.stack([tf.constant(seed, tf.int64), digest])


def m3dfel_upstream_indices(n, num_frames, seed):
  """M3DFEL's sampler as published, at training and at test time.

  Tencent/TFace `attribute/M3DFEL/datasets/dataset_DFEW.py` and AU-DFER's
  `M3DFEL_AU/datasets/dataset_DFEW_AU_weighted.py` (`__getitem__`; their
  FERV39k loader alike): frame i of T is `int(n * i / T)` plus
  `int(random.random() * T)`, one draw per frame, clipped to n - 1.
  `random_sample` is on by default and does not depend on the mode, so test
  clips are jittered too; evaluation here draws from `clip_seed` so that it
  is repeatable (upstream draws anew every time).

  The jitter spans T frames whatever the clip length: on DFEW's 16-frame
  clips frame i is the last frame with probability (i + 1) / 16, 8.5 of the
  16 on average.
  """
  u = tf.random.stateless_uniform([num_frames], seed)
  jitter = tf.cast(tf.floor(u * num_frames), tf.int32)
  idx = n * tf.range(num_frames) // num_frames + jitter
  return tf.minimum(idx, n - 1)


def mae_dfer_upstream_indices(n, num_frames, rate, seed):
  """MAE-DFER's training sampler as published (VideoMAE's, one segment).

  sunlicai/MAE-DFER `kinetics.py` `VideoClsDatasetFrame.load_video` (the
  same in AU-DFER's `MAE-DFER_AU/kinetics.py`), with W = num_frames * rate:
  - n <= W: `np.linspace(0, n, n // rate)`, padded to num_frames with n,
    clipped to n - 1 and truncated: n // rate frames up to the last one,
    the rest the last frame (n = 16, rate 4: 0, 5, 10, then 13 x 15);
  - n > W: `end = np.random.randint(W, n)`, `np.linspace(end - W, end,
    num_frames)` clipped to end - 1.
  So a long clip's window starts in [0, n - W - 1], its frames step by
  W / (num_frames - 1) and its last frame is never drawn. `window_indices`
  differs: a short clip spreads num_frames frames evenly over the clip
  without padding, a long clip's window starts anywhere in [0, n - W] and
  its frames step by (W - 1) / (num_frames - 1).
  """
  # float64 as numpy, so the truncation gives the same frames.
  j = tf.range(num_frames, dtype=tf.float64)
  n_f = tf.cast(n, tf.float64)
  window = num_frames * rate
  kept = n // rate
  step = n_f / tf.cast(tf.maximum(kept - 1, 1), tf.float64)
  short = tf.minimum(
    tf.where(j < tf.cast(kept, tf.float64), j * step, n_f), n_f - 1
  )
  end = tf.random.stateless_uniform(
    [], seed, window, tf.maximum(n, window + 1), tf.int32
  )
  start = tf.cast(end - window, tf.float64)
  inside = j * (window / max(num_frames - 1, 1)) + start
  long = tf.minimum(inside, tf.cast(end - 1, tf.float64))
  return tf.cast(tf.where(n <= window, short, long), tf.int32)


def former_dfer_upstream_indices(n, num_segments, duration, seed=None):
  """Former-DFER's TSN sampler as published: training (`seed`) or test.

  zengqunzhao/Former-DFER `dataloader/dataset_DFEW.py` (`_get_train_indices`,
  `_get_test_indices`, `get`; AU-DFER's `Former-DFER_AU/dataloader/
  dataset_FERV39K.py` alike), with s = n - duration + 1:
  - training: segments of `s // num_segments` frames, a random start in
    each; when that is 0 and n > num_segments, sorted random starts in
    [0, s); else every start 0;
  - test: start i is `int(tick / 2 + tick * i)`, tick = s / num_segments,
    when n > num_segments + duration - 1; else every start 0.
  Each start p gives `duration` frames p, p + 1, ... clipped to n - 1.
  `segment_indices` differs: fractional segments (upstream never samples
  the last `s % num_segments` frames in training), the test start at
  `tick * i + (tick - 1) / 2`, and short clips spread over the clip.
  """
  span = n - duration + 1
  if seed is None:
    tick = tf.cast(span, tf.float64) / num_segments
    i = tf.range(num_segments, dtype=tf.float64)
    starts = tf.cast(tick / 2.0 + tick * i, tf.int32)
    starts = tf.where(n > num_segments + duration - 1, starts, 0)
  else:
    length = span // num_segments
    offsets = tf.random.stateless_uniform(
      [num_segments], seed, 0, tf.maximum(length, 1), tf.int32
    )
    anywhere = tf.sort(
      tf.random.stateless_uniform(
        [num_segments], seed, 0, tf.maximum(span, 1), tf.int32
      )
    )
    starts = tf.where(
      length > 0,
      tf.range(num_segments) * length + offsets,
      tf.where(n > num_segments, anywhere, 0),
    )
  idx = starts[:, None] + tf.range(duration)
  return tf.minimum(tf.reshape(idx, [-1]), n - 1)


def all_frames(n, num_frames):
  """Every frame of a `num_frames`-frame clip, in temporal order.

  AU-DFER's Former-DFER on DFEW (`Former-DFER_AU/dataloader/dataset_DFEW.py`
  `get`) ignores its TSN indices and loads every `*.jpg` of the 16-frame
  clip (`clip_224x224_16f`) in the order `glob` returns them, which is the
  file system's, not sorted; here they are in temporal order. A clip of
  another length (e.g. a window of `audfer_jax.predict`) gets frames
  `int(i * n / num_frames)`.
  """
  return tf.range(num_frames) * n // num_frames
