"""Input-pipeline throughput: decoded, augmented clips/s, no model.

  python -m benchmarks.input_pipeline --recipe m3dfel --batches 20
  python -m benchmarks.input_pipeline --dataset dfew/clip_224x224_16f
      --data_dir ~/tensorflow_datasets --recipe mae_dfer --threads 1,2
      --train_results results.json

Runs the trainer's own training stream (`input_pipeline.train_batches`:
frame sampling, JPEG decoding of the sampled frames, the recipe's
augmentation, batching, mixup where the recipe has it, and the copy into
global device arrays) over a prepared TFDS dataset (au_faces, generated on
first use, by default). tf.data maps with AUTOTUNE parallel calls on a
thread pool as large as the cores the process may use; `--threads` limits
those cores. With `--train_results` (a `benchmarks.train_step` JSON file
with the same model) it prints the clips/s the model's train step consumes
next to what the pipeline delivers. In training both share the cores.
"""

import argparse
import json
import os
import time

from benchmarks import common

RECIPES = ('m3dfel', 'former_dfer', 'mae_dfer')


def _parser():
  p = argparse.ArgumentParser(
    prog='python -m benchmarks.input_pipeline',
    description=__doc__,
    formatter_class=argparse.RawDescriptionHelpFormatter,
  )
  p.add_argument('--dataset', default='au_faces', help='TFDS name[/config]')
  p.add_argument('--data_dir', default='', help="TFDS data dir ('': config)")
  p.add_argument('--train_split', default='train')
  p.add_argument(
    '--recipe',
    choices=RECIPES,
    default='m3dfel',
    help="augmentation and sampling of this model's training recipe",
  )
  p.add_argument(
    '--model',
    default='',
    help="clip shape of this registry model ('': the recipe's model)",
  )
  p.add_argument('--batch_size', type=int, default=8)
  p.add_argument('--batches', type=int, default=20, help='timed batches')
  p.add_argument(
    '--threads',
    default='0',
    help='comma-separated core counts to run with (0: all cores)',
  )
  p.add_argument(
    '--train_results',
    default='',
    help='benchmarks.train_step JSON to compare the step consumption with',
  )
  p.add_argument('--out', default='', help='write the results as JSON here')
  return p


def _config(args):
  from configs import common as config_lib

  config = config_lib.get_base_config()
  if args.recipe == 'mae_dfer':
    config_lib.set_mae_dfer(config, sampling_rate=4, batch_size=32)
  else:
    getattr(config_lib, f'set_{args.recipe}')(config)
  config.dataset = args.dataset
  config.train_split = args.train_split
  config.test_split = ''
  if args.data_dir:
    config.data_dir = os.path.expanduser(args.data_dir)
  if args.model:
    config.model = args.model
  config.batch_size = args.batch_size
  return config


def measure(args, threads):
  """Clips/s of `args.batches` training batches on `threads` cores."""
  if threads:
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
  import jax

  from audfer_jax import inference
  from audfer_jax.data import input_pipeline

  config = _config(args)
  builder = input_pipeline.get_builder(config)
  shape = inference.clip_shape(config)
  mesh = inference.create_mesh(config)
  sharding = jax.NamedSharding(mesh, jax.P('data'))
  stream = input_pipeline.train_batches(
    builder, config.train_split, config, shape, sharding, 0, args.batches + 1
  )
  start = time.perf_counter()
  jax.block_until_ready(next(stream)[1])  # builds the pipeline, fills it
  first_s = time.perf_counter() - start
  start = time.perf_counter()
  for _, batch in stream:
    jax.block_until_ready(batch)
  seconds = time.perf_counter() - start
  return {
    'threads': len(os.sched_getaffinity(0)),
    'parallel_calls': 'tf.data.AUTOTUNE',
    'model': config.model,
    'clip': f'{shape.num_frames}x{shape.size}x{shape.size}',
    'first_batch_s': first_s,
    'clips_per_s': args.batches * args.batch_size / seconds,
    'host_peak_mb': common.host_peak_mb(),
  }


def _train_consumption(path):
  """model -> clips/s its JAX train step consumes (from train_step JSON)."""
  with open(path) as f:
    results = json.load(f)['results']
  return {
    r['model']: r['jax']['train_clips_s']
    for r in results
    if 'train_clips_s' in r.get('jax', {})
  }


def main(args):
  rows = []
  for threads in [int(t) for t in args.threads.split(',')]:
    # A fresh process per core count: affinity and tf.data's pool size are
    # fixed once TensorFlow starts.
    rows.append(common.run_isolated(measure, args, threads))
    print(common.format_table(rows[-1:], list(rows[-1])), flush=True)
  if args.train_results:
    model = rows[-1]['model']
    clips = _train_consumption(args.train_results).get(model)
    if clips is None:
      raise SystemExit(f'--train_results: no JAX train result for {model!r}')
    for row in rows:
      row['train_step_clips_per_s'] = clips
      row['pipeline_over_step'] = row['clips_per_s'] / clips
    print(
      f'{model}: its train step consumes {clips:.3g} clips/s; the pipeline '
      'delivers '
      + ', '.join(
        f'{r["pipeline_over_step"]:.3g}x that on {r["threads"]} cores'
        for r in rows
      )
    )
  common.write_json(
    args.out,
    {'machine': common.machine(), 'args': vars(args), 'results': rows},
  )


if __name__ == '__main__':
  main(_parser().parse_args())
