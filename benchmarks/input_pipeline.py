"""Input-pipeline throughput per core, beside what an H200 step consumes.

  python -m benchmarks.input_pipeline            # every recipe, 1 and 2 cores
  python -m benchmarks.input_pipeline --recipes mae_dfer --threads 1
  python -m benchmarks.input_pipeline --dataset dfew/clip_224x224_16f
      --data_dir ~/tensorflow_datasets --recipes m3dfel

Runs the host's part of the trainer's training stream
(`input_pipeline.host_batches`: frame sampling, JPEG decoding of the
sampled frames, the recipe's augmentation, batching, mixup where the recipe
has it, and the copy into global device arrays) with each recipe's DFEW
config (configs/dfew_*.py) and reports decoded, augmented clips/s and
clips/s per core. tf.data maps with AUTOTUNE parallel calls on a thread
pool as large as the cores the process may use; `--threads` limits those
cores (one process each).

`--augment device` measures the host with `config.augment.on_device`: it
samples, decodes and resizes the frames to uint8 only, and the
augmentation runs on the device (`device_augment`). Its device cost is
estimated from XLA's cost analysis of the jitted augmentation at the
recipe's own batch size, compiled for the host's backend (its fusions:
bytes accessed), as H200 time: FLOPs at the dense bfloat16 peak (low) or at
the float32 peak the augmentation computes in (high), plus the bytes at
the HBM bandwidth; beside it the fraction of the train step's time at
`--mfu` it adds. `--device_reps` also times the jitted augmentation on the
local backend (on a GPU: measured instead of estimated).

The data, unless `--dataset` names a prepared TFDS dataset: au_faces
rendered at `--image_size` (224: DFEW's frames) as JPEG (quality 90), in
clips of the length the recipe's DFEW config reads: 16 frames
(clip_224x224_16f: M3DFEL, Former-DFER) or 77 (clip_224x224, MAE-DFER:
the mean length of DFEW's full clips, 11-847 frames); generated once in
`--data_dir` (about 1 and 3 minutes on one core).

Per core: clips/s over the cores given, and clips per CPU-second (the
CPU time of all the process's threads), which a shared, loaded machine
does not lower. Beside it: the clips/s the recipe's model's train step
would consume on an H200 at `--mfu` of its dense bfloat16 peak, from XLA's
FLOPs of the trainer's step per clip (`jax_side.train_flops_per_clip`),
and the host cores per GPU the pipeline needs for that at the clips per
CPU-second measured.
"""

import argparse
import importlib
import os
import time

from benchmarks import common

RECIPES = ('m3dfel', 'former_dfer', 'mae_dfer')
# The DFEW config file of each recipe.
_DFEW_CONFIGS = {
  'm3dfel': 'dfew_m3dfel',
  'former_dfer': 'dfew_former',
  'mae_dfer': 'dfew_mae',
}
# DFEW clip_224x224: 11-847 frames a clip, mean 77.1 over the 11,697
# single-labelled clips (the DFER-CLIP / Former-DFER lists).
FULL_LENGTH = 77
H200_BF16_TFLOPS = 989.0  # dense, NVIDIA's H200 SXM data sheet
H200_FP32_TFLOPS = 67.0  # the same sheet; the device augmentation's dtype
H200_HBM_TBS = 4.8  # the same sheet
_TRAIN_CLIPS = 256  # of a benchmark dataset: 32 batches of 8 in one epoch


def _parser():
  p = argparse.ArgumentParser(
    prog='python -m benchmarks.input_pipeline',
    description=__doc__,
    formatter_class=argparse.RawDescriptionHelpFormatter,
  )
  p.add_argument(
    '--dataset',
    default='',
    help="prepared TFDS name[/config] ('': the au_faces benchmark clips)",
  )
  p.add_argument('--data_dir', default='', help="TFDS data dir ('': config)")
  p.add_argument('--train_split', default='train')
  p.add_argument(
    '--recipes',
    default=','.join(RECIPES),
    help='comma-separated recipes (their DFEW configs) to run',
  )
  p.add_argument(
    '--image_size',
    type=int,
    default=224,
    help='frame side of the benchmark clips (224: DFEW)',
  )
  p.add_argument(
    '--frames',
    default='dfew',
    choices=('dfew', '16', 'full'),
    help="benchmark clip length: the recipe's DFEW config's, 16 or "
    f'{FULL_LENGTH}',
  )
  p.add_argument('--batch_size', type=int, default=8)
  p.add_argument(
    '--augment',
    default='host',
    help="comma-separated: 'host' (tf.data) and/or 'device' "
    '(config.augment.on_device: the host decodes and resizes only)',
  )
  p.add_argument(
    '--device_frame_size',
    type=int,
    default=None,
    help="--augment device: config.augment.device_frame_size (the host's "
    "frame side; default: the recipe's)",
  )
  p.add_argument(
    '--device_reps',
    type=int,
    default=0,
    help='--augment device: also time this many calls of the jitted '
    'augmentation of a benchmark batch on the local backend',
  )
  p.add_argument('--batches', type=int, default=20, help='timed batches')
  p.add_argument(
    '--threads',
    default='1,2',
    help='comma-separated core counts to run with (0: all cores)',
  )
  p.add_argument(
    '--mfu',
    type=float,
    default=0.4,
    help='fraction of the H200 bf16 peak the train step is assumed to run at',
  )
  p.add_argument(
    '--flops',
    action=argparse.BooleanOptionalAction,
    default=True,
    help="compute the model's train-step FLOPs (traces each model once)",
  )
  p.add_argument(
    '--ab_rounds',
    type=int,
    default=0,
    help='A/B rounds of crop-window decoding (the default) against decoding '
    'whole frames, on the first core count; each a process of its own',
  )
  p.add_argument('--out', default='', help='write the results as JSON here')
  return p


def _frames(args, recipe):
  if args.frames == 'dfew':
    return 16 if recipe != 'mae_dfer' else FULL_LENGTH
  return 16 if args.frames == '16' else FULL_LENGTH


def recipe_config(recipe, batch_size, data_dir='', train_split='train'):
  """The recipe's DFEW config (configs/dfew_*.py) for training only
  (`batch_size` None: the recipe's)."""
  module = importlib.import_module(f'configs.{_DFEW_CONFIGS[recipe]}')
  config = module.get_config()
  config.train_split = train_split
  config.test_split = ''
  if data_dir:
    config.data_dir = os.path.expanduser(data_dir)
  if batch_size is not None:
    config.batch_size = batch_size
  return config


def bench_builder(frames, size, data_dir):
  """au_faces clips of `frames` frames at `size` px (JPEG quality 90),
  prepared in `data_dir` on first use."""
  import tensorflow_datasets as tfds

  from tfds_builders.au_faces import au_faces_dataset_builder as au_faces

  config = au_faces.AuFacesConfig(
    name=f'bench_{size}px_{frames}f',
    description=f'{_TRAIN_CLIPS} train clips, {size}px, {frames} frames',
    num_train=_TRAIN_CLIPS,
    num_test=21,
    image_size=size,
    min_frames=frames,
    max_frames=frames,
  )
  builder = tfds.builder('au_faces', config=config, data_dir=data_dir)
  if not builder.is_prepared():
    tfds.disable_progress_bar()
    builder.download_and_prepare()
  return builder


def measure(args, recipe, threads, whole_frames=False, augment='host'):
  """Clips/s of `args.batches` training batches on `threads` cores;
  `whole_frames`: decode whole frames before the random resized crop (the
  pipeline before crop-window decoding); `augment` 'device': the host's
  part with `config.augment.on_device`, and the device's cost."""
  if threads:
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
  import jax

  from audfer_jax import inference
  from audfer_jax.data import device_augment
  from audfer_jax.data import input_pipeline

  if whole_frames:
    input_pipeline._crop_first = lambda config: False

  config = recipe_config(
    recipe, args.batch_size, args.data_dir, args.train_split
  )
  config.augment.on_device = augment == 'device'
  if args.device_frame_size is not None:
    config.augment.device_frame_size = args.device_frame_size
  if args.dataset:
    config.dataset = args.dataset
    builder = input_pipeline.get_builder(config)
  else:
    frames = _frames(args, recipe)
    builder = bench_builder(frames, args.image_size, config.data_dir)
    config.dataset = builder.info.full_name
  shape = inference.clip_shape(config)
  mesh = inference.create_mesh(config)
  sharding = jax.NamedSharding(mesh, jax.P('data'))
  # The training stream up to the device augmentation (the whole stream
  # without it).
  stream = input_pipeline.host_batches(
    builder, config.train_split, config, shape, sharding, 0, args.batches + 1
  )
  start = time.perf_counter()
  jax.block_until_ready(next(stream)[1])  # builds the pipeline, fills it
  first_s = time.perf_counter() - start
  start, cpu = time.perf_counter(), time.process_time()
  for _, batch in stream:
    jax.block_until_ready(batch)
  seconds = time.perf_counter() - start
  cpu_s = time.process_time() - cpu
  cores = len(os.sched_getaffinity(0))
  clips = args.batches * args.batch_size
  row = {
    'recipe': recipe,
    'augment': augment,
    'decode': 'whole frames' if whole_frames else 'default',
    'model': config.model,
    'dataset': config.dataset,
    'clip': f'{shape.num_frames}x{shape.size}x{shape.size}',
    'threads': cores,
    'first_batch_s': first_s,
    'clips_per_s': clips / seconds,
    'clips_per_s_per_core': clips / seconds / cores,
    # The CPU time of all the process's threads: a core's rate, whatever
    # else the machine runs (tf.data's threads block rather than spin).
    'cpu_s': cpu_s,
    'clips_per_cpu_s': clips / cpu_s,
    'host_peak_mb': common.host_peak_mb(),
    'host_video': f'{batch["video"].dtype} {list(batch["video"].shape[1:])}',
  }
  if augment == 'device':
    num_classes = builder.info.features['label'].num_classes
    size = recipe_config(recipe, None).batch_size
    row.update(device_cost(config, size, batch, shape, num_classes))
    if args.device_reps:
      fn = device_augment.make(config, shape.size, num_classes, sharding)
      jax.block_until_ready(fn(batch, 0))  # compiles
      times = [
        common.timed(lambda s: jax.block_until_ready(fn(batch, s)), step)
        for step in range(1, args.device_reps + 1)
      ]
      row['device_ms_per_batch'] = 1000 * common.median(times)
      row['device_backend'] = jax.default_backend()
  return row


def device_cost(config, size, batch, shape, num_classes):
  """XLA's FLOPs and bytes accessed per clip of `config`'s jitted device
  augmentation of a batch of `size` clips on one device (the leaves of
  `batch`, a host batch, with that batch size): the HLO compiled for the
  local backend (fused) and before optimisation (nothing fused)."""
  import jax

  from audfer_jax import inference
  from audfer_jax.data import device_augment
  from benchmarks import jax_side

  mesh = inference.create_mesh(config, jax.devices()[:1])
  sharding = jax.NamedSharding(mesh, jax.P('data'))
  abstract = {
    k: jax.ShapeDtypeStruct((size, *v.shape[1:]), v.dtype, sharding=sharding)
    for k, v in batch.items()
  }
  fn = device_augment.make(config, shape.size, num_classes, sharding)
  lowered = fn.lower(abstract, 0)
  start = time.perf_counter()
  compiled = lowered.compile()
  compile_s = time.perf_counter() - start
  fused, unfused = (jax_side.cost_analysis(s) for s in (compiled, lowered))
  return {
    'aug_batch': size,
    'aug_compile_s': compile_s,
    'aug_flops_per_clip': fused['flops'] / size,
    'aug_bytes_per_clip': fused['bytes accessed'] / size,
    'aug_bytes_unfused_per_clip': unfused['bytes accessed'] / size,
  }


def _ab(args, recipe):
  """Clips per CPU-second, default against whole-frame decoding, in
  alternating processes; the median of the per-round ratios."""
  threads = int(args.threads.split(',')[0])
  rounds = []
  for _ in range(args.ab_rounds):
    a, b = (
      common.run_isolated(measure, args, recipe, threads, whole)
      for whole in (False, True)
    )
    rounds.append((a['clips_per_cpu_s'], b['clips_per_cpu_s']))
  ratio = common.median([a / b for a, b in rounds])
  print(
    f'{recipe}: clips per CPU-second, default / whole-frame decoding: '
    + ', '.join(f'{a:.3g} / {b:.3g}' for a, b in rounds)
    + f'; median ratio {ratio:.3f}',
    flush=True,
  )
  return {
    'recipe': recipe,
    'threads': threads,
    'rounds': rounds,
    'median_ratio': ratio,
  }


def step_flops(model):
  """Train-step FLOPs per clip of `model` (in a process of its own)."""
  from benchmarks import jax_side

  return jax_side.train_flops_per_clip(model)


def add_h200(rows, flops, mfu):
  """Adds the H200 step's clips/s and the host cores per GPU it needs (at
  the row's clips per CPU-second) to `rows`; for device augmentation, its
  estimated H200 microseconds a clip (low, high) and their fraction of the
  step's time."""
  for row in rows:
    per_clip = flops.get(row['model'])
    if not per_clip:
      continue
    gpu = mfu * H200_BF16_TFLOPS * 1e12 / per_clip
    row['train_gflop_per_clip'] = per_clip / 1e9
    row['h200_clips_per_s'] = gpu
    row['cores_per_gpu'] = gpu / row['clips_per_cpu_s']
    if 'aug_flops_per_clip' not in row:
      continue
    memory_s = row['aug_bytes_per_clip'] / (H200_HBM_TBS * 1e12)
    for bound, tflops in (
      ('low', H200_BF16_TFLOPS),
      ('high', H200_FP32_TFLOPS),
    ):
      seconds = row['aug_flops_per_clip'] / (tflops * 1e12) + memory_s
      row[f'aug_us_per_clip_{bound}'] = 1e6 * seconds
      row[f'aug_step_fraction_{bound}'] = seconds * gpu


COLUMNS = (
  'recipe',
  'augment',
  'clip',
  'threads',
  'clips_per_s',
  'clips_per_s_per_core',
  'clips_per_cpu_s',
  'train_gflop_per_clip',
  'h200_clips_per_s',
  'cores_per_gpu',
  'aug_us_per_clip_low',
  'aug_us_per_clip_high',
  'aug_step_fraction_low',
  'aug_step_fraction_high',
)


def main(args):
  info = common.machine()
  print(
    f'{info["cpu"]} ({info["cpu_family_model"]}), '
    f'{info["cores_usable"]} cores, load {info["load_avg_1m"]:.2f}',
    flush=True,
  )
  recipes = [r for r in args.recipes.split(',') if r]
  unknown = sorted(set(recipes) - set(RECIPES))
  if unknown:
    raise SystemExit(f'--recipes: unknown {unknown}; one of {RECIPES}')
  augments = [a for a in args.augment.split(',') if a]
  if set(augments) - {'host', 'device'}:
    raise SystemExit(f"--augment: {args.augment}; 'host' and/or 'device'")
  rows = []
  for recipe in recipes:
    for augment in augments:
      for threads in [int(t) for t in args.threads.split(',')]:
        # A fresh process per core count: affinity and tf.data's pool size
        # are fixed once TensorFlow starts.
        rows.append(
          common.run_isolated(measure, args, recipe, threads, False, augment)
        )
        print(common.format_table(rows[-1:], COLUMNS[:7]), flush=True)
  ab = [_ab(args, recipe) for recipe in recipes if args.ab_rounds]
  flops = {}
  if args.flops:
    for model in sorted({r['model'] for r in rows}):
      flops[model] = common.run_isolated(step_flops, model)
  add_h200(rows, flops, args.mfu)
  print()
  print(
    f'H200 at {args.mfu:.0%} of {H200_BF16_TFLOPS:g} TFLOP/s (dense bf16); '
    'host cores per GPU at the clips per CPU-second measured:'
  )
  print(common.format_table(rows, COLUMNS))
  info['load_avg_1m_after'] = os.getloadavg()[0]
  common.write_json(
    args.out,
    {'machine': info, 'args': vars(args), 'results': rows, 'ab': ab},
  )
  return rows


if __name__ == '__main__':
  main(_parser().parse_args())
