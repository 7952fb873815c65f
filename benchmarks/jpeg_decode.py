"""Per-frame cost of the ways to get a training frame from a JPEG, one core.

  python -m benchmarks.jpeg_decode [--clips 8] [--reps 7]

On au_faces frames rendered at 224 x 224 (JPEG quality 90, as the
benchmark datasets of `benchmarks.input_pipeline`), in CPU milliseconds a
frame (the process's CPU time: what a loaded machine does not inflate) and
wall milliseconds, the median of `--reps` passes over all frames:
decoding whole frames, then the recipes' random resized crop (area 0.08-1,
aspect 3/4-4/3) resized to 112 (M3DFEL, Former-DFER) or the square resize to
160 (MAE-DFER); decoding only the crop window (`decode_and_crop_jpeg`);
libjpeg's fast integer IDCT; decoding at half scale; and frames stored
already at 112 or 160 px (their JPEG bytes a frame are printed: the disk
cost of such a dataset).
"""

import argparse
import io
import os
import time

import numpy as np


def _parser():
  p = argparse.ArgumentParser(
    prog='python -m benchmarks.jpeg_decode',
    description=__doc__,
    formatter_class=argparse.RawDescriptionHelpFormatter,
  )
  p.add_argument('--clips', type=int, default=8, help='16-frame clips')
  p.add_argument('--reps', type=int, default=7)
  return p


def main(args):
  os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[-1:])
  from PIL import Image
  import tensorflow as tf

  from tfds_builders.au_faces import au_faces_dataset_builder as au_faces
  from tfds_builders.au_faces import synthesis

  tf.config.threading.set_intra_op_parallelism_threads(1)
  tf.config.threading.set_inter_op_parallelism_threads(1)
  config = au_faces.AuFacesConfig(
    name='bench', image_size=224, min_frames=16, max_frames=16
  )
  frames = []
  for i in range(args.clips):
    rng = synthesis.clip_rng(0, 'train', i)
    frames += list(synthesis.synthesize_clip(rng, i % 7, config)['frames'])

  def jpeg(pixels):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(
      buffer, format='JPEG', quality=au_faces.JPEG_QUALITY
    )
    return buffer.getvalue()

  def stored(size):
    resized = tf.image.resize(
      tf.constant(np.stack(frames), tf.float32), [size, size]
    )
    pixels = tf.cast(tf.round(tf.clip_by_value(resized, 0, 255)), tf.uint8)
    return [jpeg(p) for p in pixels.numpy()]

  data = {224: [jpeg(f) for f in frames], 160: stored(160), 112: stored(112)}
  for size, encoded in data.items():
    print(f'{size} px: {np.mean([len(b) for b in encoded]):.0f} bytes a frame')
  windows = []
  for k in range(len(frames)):
    begin, crop, _ = tf.image.stateless_sample_distorted_bounding_box(
      [224, 224, 3],
      tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
      seed=[k, 7],
      min_object_covered=0.0,
      aspect_ratio_range=(3 / 4, 4 / 3),
      area_range=(0.08, 1.0),
      max_attempts=10,
      use_image_if_no_bounding_boxes=True,
    )
    windows.append(tf.stack([begin[0], begin[1], crop[0], crop[1]]))
  windows = tf.stack(windows)

  def crop_resize(image, w, size=112):
    image = tf.slice(image, [w[0], w[1], 0], [w[2], w[3], 3])
    return tf.image.resize(tf.cast(image, tf.float32), [size, size])

  def decode(b, **kw):
    return tf.io.decode_jpeg(b, channels=3, **kw)

  def window(b, w, **kw):
    image = tf.io.decode_and_crop_jpeg(b, w, channels=3, **kw)
    return tf.image.resize(tf.cast(image, tf.float32), [112, 112])

  ways = [
    ('224: decode', 224, lambda b, w: tf.cast(decode(b), tf.float32)),
    (
      '224: decode, crop, resize 112 (before)',
      224,
      lambda b, w: crop_resize(decode(b), w),
    ),
    ('224: decode the crop window, resize 112 (now)', 224, window),
    (
      '224: decode the crop window, INTEGER_FAST',
      224,
      lambda b, w: window(b, w, dct_method='INTEGER_FAST'),
    ),
    (
      '224: decode INTEGER_FAST, crop, resize 112',
      224,
      lambda b, w: crop_resize(decode(b, dct_method='INTEGER_FAST'), w),
    ),
    (
      '224: decode at 1/2 scale, crop/2, resize 112',
      224,
      lambda b, w: crop_resize(decode(b, ratio=2), w // 2),
    ),
    (
      '112 stored: decode, crop/2, resize 112',
      112,
      lambda b, w: crop_resize(decode(b), w // 2),
    ),
    (
      '224: decode, resize 160 (MAE-DFER)',
      224,
      lambda b, w: tf.image.resize(tf.cast(decode(b), tf.float32), [160, 160]),
    ),
    (
      '160 stored: decode (MAE-DFER)',
      160,
      lambda b, w: tf.cast(decode(b), tf.float32),
    ),
  ]
  n = len(frames)
  print(f'{"frame from JPEG":48s} {"CPU ms":>7s} {"wall ms":>8s}')
  for name, size, body in ways:
    fn = tf.function(
      lambda x, w, body=body: tf.map_fn(
        lambda e: body(e[0], e[1]), (x, w), fn_output_signature=tf.float32
      )
    )
    x = tf.constant(data[size])
    fn(x, windows)
    cpu, wall = [], []
    for _ in range(args.reps):
      c, t = time.process_time(), time.perf_counter()
      fn(x, windows)
      cpu.append(time.process_time() - c)
      wall.append(time.perf_counter() - t)
    print(
      f'{name:48s} {np.median(cpu) / n * 1e3:7.3f} '
      f'{np.median(wall) / n * 1e3:8.3f}'
    )


if __name__ == '__main__':
  main(_parser().parse_args())
