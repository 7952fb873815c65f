"""Host clips/s with the augmentation on the host or on the device, and the
device's cost of it.

  python -m benchmarks.device_augment --batches 20 --threads 1
      --out benchmarks/results/cpu_device_augment.json

For each recipe and `config.augment.on_device` False / True, a fresh
process pinned to `--threads` cores times what the host does per clip in
training: the trainer's tf.data stream of one shard (`train_epoch`:
sampling, JPEG decoding, and either the whole augmentation or only the
resize to uint8 frames) plus, on the host path, mixup/cutmix (`_mix`). It
then times the jitted device augmentation (`device_augment.make`) of one
global batch on the JAX CPU device of the same cores (on a GPU it runs
there instead, beside the step).
"""

import argparse
import os
import time

from benchmarks import common
from benchmarks import input_pipeline as pipeline_bench


def _parser():
  p = argparse.ArgumentParser(
    prog='python -m benchmarks.device_augment',
    description=__doc__,
    formatter_class=argparse.RawDescriptionHelpFormatter,
  )
  p.add_argument('--dataset', default='au_faces', help='TFDS name[/config]')
  p.add_argument('--data_dir', default='', help="TFDS data dir ('': config)")
  p.add_argument('--recipes', default=','.join(pipeline_bench.RECIPES))
  p.add_argument('--batch_size', type=int, default=8)
  p.add_argument('--batches', type=int, default=20, help='timed batches')
  p.add_argument('--threads', type=int, default=1, help='cores (0: all)')
  p.add_argument('--out', default='', help='write the results as JSON here')
  return p


def measure(args, recipe, on_device):
  """Host clips/s and device ms per batch of one recipe on `args.threads`."""
  if args.threads:
    cores = sorted(os.sched_getaffinity(0))[: args.threads]
    os.sched_setaffinity(0, cores)
  import jax
  import tensorflow_datasets as tfds

  from audfer_jax import inference
  from audfer_jax.data import device_augment
  from audfer_jax.data import input_pipeline

  config = pipeline_bench._config(
    argparse.Namespace(
      recipe=recipe,
      dataset=args.dataset,
      train_split='train',
      data_dir=args.data_dir,
      model='',
      batch_size=args.batch_size,
    )
  )
  config.augment.on_device = on_device
  builder = input_pipeline.get_builder(config)
  shape = inference.clip_shape(config)
  num_classes = builder.info.features['label'].num_classes
  mix = not on_device and (config.augment.mixup or config.augment.cutmix)
  ds = input_pipeline.train_epoch(
    builder, 'train', config, shape, 0, ([0], 1)
  ).repeat()
  batches = iter(tfds.as_numpy(ds))
  batch = next(batches)  # builds the pipeline and fills it
  start = time.perf_counter()
  for step in range(args.batches):
    batch = next(batches)
    if mix:
      input_pipeline._mix(batch, [0], step, num_classes, config)
  seconds = time.perf_counter() - start
  row = {
    'recipe': recipe,
    'on_device': on_device,
    'threads': len(os.sched_getaffinity(0)),
    'host_video': f'{batch["video"].dtype} {list(batch["video"].shape[1:])}',
    'host_clips_per_s': args.batches * args.batch_size / seconds,
  }
  if on_device:
    mesh = inference.create_mesh(config, jax.devices()[:1])
    sharding = jax.NamedSharding(mesh, jax.P('data'))
    fn = device_augment.make(config, shape.size, num_classes, sharding)
    batch = input_pipeline.to_global(batch, sharding)
    jax.block_until_ready(fn(batch, 0))  # compiles
    times = [
      common.timed(lambda s: jax.block_until_ready(fn(batch, s)), step)
      for step in range(1, 6)
    ]
    row['device_ms_per_batch'] = 1000 * common.median(times)
    row['device_backend'] = jax.default_backend()
  return row


def main(args):
  rows = []
  for recipe in args.recipes.split(','):
    for on_device in (False, True):
      rows.append(common.run_isolated(measure, args, recipe, on_device))
      print(common.format_table(rows[-1:], list(rows[-1])), flush=True)
  common.write_json(
    args.out,
    {'machine': common.machine(), 'args': vars(args), 'results': rows},
  )


if __name__ == '__main__':
  main(_parser().parse_args())
