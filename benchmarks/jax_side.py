"""The JAX half of the train-step benchmark: the trainer's own step.

The model, optimizer (AdamW, the trainer's default recipe; a pre-training
model's is configs/pretrain_mae_dfer.py's) and jitted step come from
`audfer_jax.training.train` / `audfer_jax.training.optim`, so the benchmark
times what training runs: a pre-training step draws its masks itself, as
the trainer's does. The step is compiled ahead of time, which separates
compile time from step time and gives XLA's cost analysis. Nothing here
imports TensorFlow or clu: GPU hosts often have neither.
"""

import os
import time
import types

from flax import nnx
import jax
import jax.numpy as jnp

from audfer_jax import inference
from audfer_jax import models
from audfer_jax.models import conv_grads
from audfer_jax.training import optim
from audfer_jax.training import train
from benchmarks import common
from configs import common as config_lib
from configs import pretrain_mae_dfer


def cost_analysis(stage):
  """XLA's cost analysis of a lowered or compiled stage as one dict ({}
  where the backend gives none)."""
  cost = stage.cost_analysis()
  cost = cost[0] if isinstance(cost, list | tuple) else cost
  return cost or {}


def _flops(stage):
  return float(cost_analysis(stage).get('flops', 0.0))


class Runner:
  """Builds the model and step; `train_step`/`forward` block until done."""

  def __init__(self, model_name, data, args):
    self.pretrain = models.task(model_name) == 'pretrain'
    if self.pretrain:
      self.config = pretrain_mae_dfer.get_config()
    else:
      self.config = config_lib.get_base_config()
    self.config.model = model_name
    self.config.dtype = args.compute_dtype
    self.device = args.device
    self.config.batch_size = len(data['label'])
    self.config.donate = args.donate
    self.lax_conv_grads = args.lax_conv_grads
    self.data = data

  def build(self):
    """The model, optimizer and the trainer's jitted step, lowered (traced,
    not compiled) for the batch; returns the model."""
    config = self.config
    self.mesh = inference.create_mesh(config)
    data = jax.NamedSharding(self.mesh, jax.P('data'))
    schedule = optim.create_schedule(config, 1000, 100_000)
    num_classes = None if self.pretrain else len(self.data['knowledge'])
    model, optimizer = train.create_model_and_optimizer(
      config, num_classes, schedule, self.mesh
    )
    if self.lax_conv_grads:
      conv_grads.use_lax_convolutions(model)
    if self.pretrain:
      step_fn = train.make_pretrain_step(config, model, optimizer)
    else:
      step_fn = train.make_train_step(
        config,
        self.data['knowledge'],
        self.data['pos_weight'],
        model,
        optimizer,
      )
    batch = {k: self.data[k] for k in common.BATCH_KEYS}
    self.batch = jax.device_put(batch, data)
    self.step = jnp.asarray(0, jnp.int32)
    self.state = nnx.state((model, optimizer))
    with jax.set_mesh(self.mesh):
      start = time.perf_counter()
      self.lowered = step_fn.lower(self.state, self.batch, self.step)
      self.lower_s = time.perf_counter() - start
    return model

  def setup(self):
    config = self.config
    if self.device == 'gpu' and jax.default_backend() != 'gpu':
      raise RuntimeError(
        f'no GPU found: JAX runs on {jax.default_backend()} '
        f'({jax.devices()[0].device_kind})'
      )
    # MFU: against the peak of matmuls in the compute dtype, measured here.
    n = 8192 if self.device == 'gpu' else 2048
    peak = common.matmul_peak_gflops(n, config.dtype)
    model = self.build()
    lowered = self.lowered
    with jax.set_mesh(self.mesh):
      start = time.perf_counter()
      self.compiled = lowered.compile()
      compile_s = time.perf_counter() - start

      model.eval()
      eval_graph = nnx.graphdef(model)
      model.train()
      # A pre-training model's forward: the reconstruction of the batch's
      # masked tokens (the masks the benchmark wrote, as the PyTorch side).
      self.forward_args = (self.batch['video'],)
      if self.pretrain:
        self.forward_args += (jnp.asarray(self.data['mask']),)
      self.forward_fn = jax.jit(
        lambda state, *args: nnx.merge(eval_graph, state)(*args)
      )
      fwd_lowered = self.forward_fn.lower(self.state[0], *self.forward_args)
      start = time.perf_counter()
      self.forward_compiled = fwd_lowered.compile()
      fwd_compile_s = time.perf_counter() - start
    memory = self.compiled.memory_analysis()
    return {
      'devices': [str(d) for d in jax.devices()],
      'device_kind': jax.devices()[0].device_kind,
      'dtype': config.dtype,
      'matmul_peak_gflops': peak,
      'matmul_peak_n': n,
      'params': sum(
        x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param))
      ),
      'trace_lower_s': self.lower_s,
      'compile_s': compile_s,
      'forward_compile_s': fwd_compile_s,
      # Counted on the HLO before XLA's optimisations: the same whichever
      # flags are set (oneDNN custom calls count 0 in the compiled HLO).
      'flops_per_step': _flops(lowered),
      'compiled_flops_per_step': _flops(self.compiled),
      'forward_flops': _flops(fwd_lowered),
      'temp_mb': getattr(memory, 'temp_size_in_bytes', 0) / 2**20,
      'xla_flags': os.environ.get('XLA_FLAGS', ''),
      'jax_version': jax.__version__,
    }

  def train_step(self):
    with jax.set_mesh(self.mesh):
      self.state, terms = self.compiled(self.state, self.batch, self.step)
    jax.block_until_ready(terms)
    self.step = self.step + 1

  def forward(self):
    with jax.set_mesh(self.mesh):
      out = self.forward_compiled(self.state[0], *self.forward_args)
    jax.block_until_ready(out)

  def stats(self):
    return {
      'host_peak_mb': common.host_peak_mb(),
      'device_peak_mb': common.device_peak_mb(jax.devices()[0]),
    }


def train_flops_per_clip(model_name, batch_size=2):
  """XLA's FLOPs of the trainer's train step (forward, loss, backward,
  AdamW) per clip: the step's HLO before optimisation, traced on the
  host's backend, nothing compiled or run."""
  data = common.synthetic_batch(models.input_shape(model_name), batch_size)
  args = types.SimpleNamespace(
    compute_dtype='float32', device='cpu', donate=True, lax_conv_grads=False
  )
  runner = Runner(model_name, data, args)
  runner.build()
  return _flops(runner.lowered) / batch_size
