"""The training input pipeline into the train step: which one is the limit.

For one recipe (its DFEW config, configs/dfew_*.py): the trainer's training
stream (`input_pipeline.train_batches`) over the benchmark's au_faces clips
(16 JPEG frames of 224 x 224, `benchmarks.input_pipeline.bench_builder`;
au_faces/tiny for the tiny models), fed to the trainer's jitted step
(`benchmarks.jax_side.Runner`: the model, its optimizer and
`train.make_train_step`) with the trainer's device prefetch, timed three ways in one process: the step alone on a batch already on the
device, the pipeline alone, and the pipeline into the step. Needs
TensorFlow and TFDS (the data side), unlike the rest of `gpu_check`.
"""

import time
import types

from benchmarks import common
from benchmarks import input_pipeline as bench_input

FRAMES = 16


def _clips_per_s(batches, batch_size, seconds):
  return batches * batch_size / seconds


def measure(recipe, size, batch_size, batches, data_dir, device):
  """One recipe's row: step, pipeline and pipeline-into-step clips/s."""
  import jax
  import numpy as np

  from audfer_jax import inference
  from audfer_jax.data import input_pipeline
  from benchmarks import jax_side

  config = bench_input.recipe_config(recipe, batch_size, data_dir)
  config.init_from = ''  # the step's cost does not depend on the weights
  if size == 'tiny':
    config.model += '_tiny'
  shape = inference.clip_shape(config)
  if size == 'full':
    builder = bench_input.bench_builder(FRAMES, 224, config.data_dir)
  else:  # 42 clips of 32 x 32, made in seconds
    config.dataset = 'au_faces/tiny'
    builder = input_pipeline.get_builder(config)
  # One epoch: a new epoch builds a new tf.data pipeline.
  batches = min(
    batches, builder.info.splits['train'].num_examples // (batch_size) - 1
  )
  mesh = inference.create_mesh(config)
  sharding = jax.NamedSharding(mesh, jax.P('data'))

  def stream(total):
    return input_pipeline.train_batches(
      builder, 'train', config, shape, sharding, 0, total
    )

  # The step is compiled for the pipeline's batch (MAE-DFER's mixup makes
  # soft labels); K and pos_weight do not change its cost.
  first = next(stream(1))[1]
  data = {k: np.asarray(first[k]) for k in common.BATCH_KEYS}
  unused = common.synthetic_batch((1, 1, 1, 3), 1)
  data.update(knowledge=unused['knowledge'], pos_weight=unused['pos_weight'])
  args = types.SimpleNamespace(
    compute_dtype=inference.resolve_dtype(config.dtype),
    device=device,
    donate=config.donate,
    lax_conv_grads=False,
  )
  runner = jax_side.Runner(config.model, data, args)
  runner.config = config
  config.dtype = args.compute_dtype
  runner.build()  # the step only: no matmul peak, no forward
  with jax.set_mesh(runner.mesh):
    runner.compiled = runner.lowered.compile()
  for _ in range(2):
    runner.train_step()
  step_s = common.median([common.timed(runner.train_step) for _ in range(5)])

  # The pipeline alone: its first batch builds it and fills its buffers.
  batches_alone = stream(batches + 1)
  jax.block_until_ready(next(batches_alone)[1])
  start, cpu = time.perf_counter(), time.process_time()
  for _, batch in batches_alone:
    jax.block_until_ready(batch)
  pipeline_s = time.perf_counter() - start
  pipeline_cpu_s = time.process_time() - cpu

  # Into the step, as the trainer runs it: device prefetch, no blocking
  # between steps.
  fed = input_pipeline.prefetch_to_device(
    stream(batches + 1), config.device_prefetch
  )
  state = runner.state
  with jax.set_mesh(runner.mesh):
    step, batch = next(fed)
    state, terms = runner.compiled(state, batch, jax.numpy.int32(step))
    jax.block_until_ready(terms)
    start = time.perf_counter()
    for step, batch in fed:
      state, terms = runner.compiled(state, batch, jax.numpy.int32(step))
    jax.block_until_ready(terms)
  fed_s = time.perf_counter() - start

  step_clips = batch_size / step_s
  pipeline_clips = _clips_per_s(batches, batch_size, pipeline_s)
  return {
    'recipe': recipe,
    'model': config.model,
    'clip': f'{shape.num_frames}x{shape.size}x{shape.size}',
    'batch_size': batch_size,
    'batches': batches,
    'host_cores': common.machine()['cores_usable'],
    'dtype': config.dtype,
    'step_clips_per_s': step_clips,
    'pipeline_clips_per_s': pipeline_clips,
    'pipeline_clips_per_cpu_s': batches * batch_size / pipeline_cpu_s,
    'fed_clips_per_s': _clips_per_s(batches, batch_size, fed_s),
    'limit': 'host' if pipeline_clips < step_clips else 'step',
  }


COLUMNS = (
  'recipe',
  'model',
  'clip',
  'batch_size',
  'host_cores',
  'step_clips_per_s',
  'pipeline_clips_per_s',
  'pipeline_clips_per_cpu_s',
  'fed_clips_per_s',
  'limit',
)
