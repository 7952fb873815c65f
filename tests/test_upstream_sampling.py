"""The published samplers against their code, written out here in numpy.

Each reference below restates the upstream loader (file and function in
audfer_jax/data/video_sampling.py) in plain Python with the same random draws
the sampler makes (`random.random()` / `np.random.randint` upstream,
stateless tf draws here).
"""

import numpy as np
import pytest
import tensorflow as tf

from audfer_jax.data import augment
from audfer_jax.data import input_pipeline
from audfer_jax.data import video_sampling
from configs import common

SEEDS = [tf.constant([7, s], tf.int64) for s in range(6)]
# Shorter and longer than MAE-DFER's 64-frame window and Former-DFER's
# 8 x 2 frames, DFEW's 16-frame clips, and one frame.
LENGTHS = [1, 2, 3, 5, 9, 10, 15, 16, 17, 28, 50, 63, 64, 65, 66, 100, 300]


def m3dfel_reference(n, u, t):
  """TFace M3DFEL `DFEWDataset.__getitem__`; u[i]: random.random() of i."""
  frames = []
  for i in range(t):
    f = int(n * i / t) + int(u[i] * t)
    frames.append(min(n - 1, f))
  return frames


def mae_dfer_train_reference(n, end, t, rate):
  """MAE-DFER `VideoClsDatasetFrame.load_video`, training, one segment;
  `end`: the draw of np.random.randint(t * rate, n)."""
  w = t * rate
  if n <= w:
    kept = n // rate
    pos = np.concatenate([np.linspace(0, n, kept), np.full(t - kept, n)])
    lo, hi = 0, n - 1
  else:
    pos = np.linspace(end - w, end, t)
    lo, hi = end - w, end - 1
  return np.clip(pos, lo, hi).astype(np.int64).tolist()


def mae_dfer_test_reference(n, t, rate, views):
  """MAE-DFER's 'test' mode: the strided list padded with its last frame,
  then `test_num_segment` clips at int(k * step)."""
  strided = list(range(0, n, rate))
  strided += [strided[-1]] * (t - len(strided))
  step = max((len(strided) - t) / (views - 1), 0)
  return [strided[int(k * step) : int(k * step) + t] for k in range(views)]


def former_dfer_reference(n, segments, duration, starts_of):
  """Former-DFER `VideoDataset.get`: `duration` frames from each start,
  each next frame only while the last is before n - 1."""
  frames = []
  for start in starts_of(n, segments, duration):
    p = start
    for _ in range(duration):
      frames.append(p)
      if p < n - 1:
        p += 1
  return frames


def former_dfer_test_starts(n, segments, duration):
  """Former-DFER `_get_test_indices`."""
  if n <= segments + duration - 1:
    return [0] * segments
  tick = (n - duration + 1) / float(segments)
  return [int(tick / 2.0 + tick * x) for x in range(segments)]


def former_dfer_train_starts(seed):
  """Former-DFER `_get_train_indices` with the sampler's draws for `seed`:
  randint(length) per segment, or randint(n - duration + 1) sorted."""

  def starts(n, segments, duration):
    length = (n - duration + 1) // segments
    if length > 0:
      r = tf.random.stateless_uniform([segments], seed, 0, length, tf.int32)
      return [i * length + int(x) for i, x in enumerate(r.numpy())]
    if n > segments:
      span = n - duration + 1
      r = tf.random.stateless_uniform([segments], seed, 0, span, tf.int32)
      return sorted(int(x) for x in r.numpy())
    return [0] * segments

  return starts


@pytest.mark.parametrize('t', [16, 8])
@pytest.mark.parametrize('n', LENGTHS)
def test_m3dfel_upstream_train(n, t):
  for seed in SEEDS:
    u = tf.random.stateless_uniform([t], seed).numpy()
    got = video_sampling.m3dfel_upstream_indices(tf.constant(n), t, seed)
    assert got.numpy().tolist() == m3dfel_reference(n, u, t)


def test_m3dfel_upstream_repeats_the_last_of_16_frames_half_the_time():
  # P(frame i is 15) = (i + 1) / 16: 8.5 of 16 on average.
  last = [
    np.sum(
      video_sampling.m3dfel_upstream_indices(
        tf.constant(16), 16, tf.constant([3, s], tf.int64)
      ).numpy()
      == 15
    )
    for s in range(400)
  ]
  assert np.mean(last) == pytest.approx(8.5, abs=0.3)


@pytest.mark.parametrize('rate', [4, 1])
@pytest.mark.parametrize('n', LENGTHS)
def test_mae_dfer_upstream_train(n, rate):
  for seed in SEEDS:
    end = 0
    if n > 16 * rate:
      end = int(tf.random.stateless_uniform([], seed, 16 * rate, n, tf.int32))
    got = video_sampling.mae_dfer_upstream_indices(
      tf.constant(n), 16, rate, seed
    )
    assert got.numpy().tolist() == mae_dfer_train_reference(n, end, 16, rate)


def test_mae_dfer_upstream_short_clips_pad_with_the_last_frame():
  # DFEW's 16-frame clips at rate 4: 4 frames, then the last one 12 times.
  got = video_sampling.mae_dfer_upstream_indices(
    tf.constant(16), 16, 4, SEEDS[0]
  )
  assert got.numpy().tolist() == [0, 5, 10] + [15] * 13


@pytest.mark.parametrize('n', LENGTHS)
def test_former_dfer_upstream_test(n):
  got = video_sampling.former_dfer_upstream_indices(tf.constant(n), 8, 2)
  assert got.numpy().tolist() == former_dfer_reference(
    n, 8, 2, former_dfer_test_starts
  )


# 4 segments x 4 frames: n = 5 and 6 have no whole frame per segment but
# more frames than segments, where upstream sorts random starts.
@pytest.mark.parametrize(
  'segments,duration,n',
  [(8, 2, n) for n in LENGTHS] + [(4, 4, n) for n in (3, 5, 6, 7, 20)],
)
def test_former_dfer_upstream_train(segments, duration, n):
  for seed in SEEDS:
    got = video_sampling.former_dfer_upstream_indices(
      tf.constant(n), segments, duration, seed
    )
    want = former_dfer_reference(
      n, segments, duration, former_dfer_train_starts(seed)
    )
    assert got.numpy().tolist() == want


def _numbered_frames(n):
  """JPEG frames (n <= 256) whose pixels all equal their frame index."""
  return tf.constant(
    [
      tf.io.encode_jpeg(
        tf.fill([8, 8, 3], tf.constant(k, tf.uint8)), quality=100
      ).numpy()
      for k in range(n)
    ]
  )


def _eval_frames(frames, **config):
  """The frame indices `input_pipeline.eval_views` feeds: [views, 16]."""
  c = common.get_base_config()
  c.update(config)
  video = input_pipeline.eval_views(frames, c, input_pipeline.ClipShape(16, 8))
  return np.rint(video.numpy()[:, :, 0, 0, 0] * 255).astype(int).tolist()


@pytest.mark.parametrize('n', [1, 5, 16, 17, 100])
def test_m3dfel_upstream_test_jitter_is_seeded_per_clip(n):
  frames = _numbered_frames(n)
  got = _eval_frames(frames, sampling='m3dfel_upstream', seed=5)
  u = tf.random.stateless_uniform(
    [16], video_sampling.clip_seed(frames, 5)
  ).numpy()
  assert got == [m3dfel_reference(n, u, 16)]
  assert _eval_frames(frames, sampling='m3dfel_upstream', seed=5) == got


def test_m3dfel_upstream_test_jitter_differs_between_clips():
  # The same length, another first frame: another seed, other frames.
  a = _numbered_frames(100)
  b = tf.concat([a[-1:], a[1:]], 0)
  got_a = _eval_frames(a, sampling='m3dfel_upstream')[0]
  got_b = _eval_frames(b, sampling='m3dfel_upstream')[0]
  assert got_a[1:] != got_b[1:]


@pytest.mark.parametrize('views', [2, 3])
@pytest.mark.parametrize('n', [1, 5, 16, 63, 64, 65, 76, 100, 250])
def test_mae_dfer_upstream_test_clips(n, views):
  frames = _numbered_frames(n)
  for sampling in ('mae_dfer_upstream', 'window'):
    got = _eval_frames(frames, sampling=sampling, eval_views=views)
    assert got == mae_dfer_test_reference(n, 16, 4, views)


@pytest.mark.parametrize('n', [1, 9, 16, 50])
def test_former_dfer_upstream_eval(n):
  got = _eval_frames(
    _numbered_frames(n), sampling='former_dfer_upstream', frames_per_segment=2
  )
  assert got == [former_dfer_reference(n, 8, 2, former_dfer_test_starts)]


def test_all_frames_of_a_16_frame_clip_in_order():
  # Former-DFER_AU's DFEW loader: every frame of the 16-frame clip.
  got = _eval_frames(_numbered_frames(16), sampling='all_frames')
  assert got == [list(range(16))]


@pytest.mark.parametrize(
  'sampling,sampler',
  [
    ('m3dfel_upstream', video_sampling.m3dfel_upstream_indices),
    (
      'mae_dfer_upstream',
      lambda n, t, s: video_sampling.mae_dfer_upstream_indices(n, t, 4, s),
    ),
    (
      'former_dfer_upstream',
      lambda n, t, s: video_sampling.former_dfer_upstream_indices(
        n, t // 2, 2, s
      ),
    ),
    ('all_frames', lambda n, t, s: video_sampling.all_frames(n, t)),
    (
      'segments',
      lambda n, t, s: video_sampling.segment_indices(n, t // 2, 2, s),
    ),
    ('window', lambda n, t, s: video_sampling.window_indices(n, t, 4, s)),
  ],
)
def test_train_clip_samples_with_the_configured_sampler(sampling, sampler):
  config = common.get_base_config()
  config.update(dict(sampling=sampling, frames_per_segment=2, sampling_rate=4))
  example = {
    'video': _numbered_frames(100),
    'label': tf.constant(0),
    'au_label': tf.zeros([18], tf.uint8),
    'au_valid': tf.constant(True),
  }
  seed = SEEDS[1]
  clip = input_pipeline.train_clip(
    example, seed, config, input_pipeline.ClipShape(16, 8)
  )
  # A crop or flip of a flat frame is the same flat frame.
  got = np.rint(clip['video'].numpy()[:, 0, 0, 0] * 255).astype(int)
  temporal_seed = augment.split_seed(seed, 6)[0]
  want = sampler(tf.constant(100), 16, temporal_seed).numpy()
  assert got.tolist() == want.tolist()


def test_unknown_sampler_is_named():
  with pytest.raises(
    ValueError, match="config.sampling: unknown sampler 'tsn'"
  ):
    _eval_frames(_numbered_frames(4), sampling='tsn')
