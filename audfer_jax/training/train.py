"""The model, its optimizer and the jitted data-parallel train step.

One jitted step over a 1-D `data` mesh: the batch is sharded, the model and
optimizer state replicated, and the compiler averages the gradients (no
pmap, no pmean). BatchNorm statistics are therefore global-batch ones.

Only JAX, Flax and optax: no TensorFlow and no clu, which feed the data and
write the logs (`train_loop.py`); the model is built by `inference.py`,
which needs neither. GPU hosts often have JAX and PyTorch but not
TensorFlow; the train-step benchmark imports this module there.
"""

from concurrent import futures
import functools
import itertools

from flax import nnx
import jax
import jax.numpy as jnp
import optax

from audfer_jax import inference
from audfer_jax.method import loss as loss_lib
from audfer_jax.training import optim


def _new_model_and_optimizer(config, num_classes, schedule, dtype):
  """The initialised model and its `nnx.Optimizer`, with the per-parameter
  learning-rate scales of `config.layer_decay` (`optim.lr_scales`)."""
  model = inference.new_model(config, num_classes, dtype)
  tx = optim.create_optimizer(config, schedule, optim.lr_scales(config, model))
  return model, nnx.Optimizer(model, tx, wrt=nnx.Param)


def abstract_model_and_optimizer(config, num_classes, schedule, dtype=None):
  """The shapes of `create_model_and_optimizer`'s modules, in train mode,
  without computing a parameter: what compiling the train step needs."""
  model, optimizer = nnx.eval_shape(
    lambda: _new_model_and_optimizer(config, num_classes, schedule, dtype)
  )
  model.train()
  return model, optimizer


def create_model_and_optimizer(config, num_classes, schedule, mesh, dtype=None):
  """The model (as `inference.create_model` builds it) and its optimizer,
  replicated over `mesh`; `dtype` as `inference.new_model` takes it.

  Built as one compiled program, as `models.create` builds a model: op by
  op, the optimizer's state alone (a zeros array a parameter shape, one
  compilation each) took seconds on a CPU. The optimizer starts from zeros
  whatever the weights, so `init_from` is loaded after.
  """
  build = nnx.jit(
    functools.partial(
      _new_model_and_optimizer, config, num_classes, schedule, dtype
    )
  )
  with jax.set_mesh(mesh):
    model, optimizer = build()
    inference.load_initial_weights(config, model)
    replicated = jax.NamedSharding(mesh, jax.P())
    sync(
      model,
      optimizer,
      jax.device_put(nnx.state((model, optimizer)), replicated),
    )
  return model, optimizer


def sync(model, optimizer, state):
  """Points the modules at `state`, e.g. the train step's new state.

  The step donates its input: until this update the modules hold deleted
  arrays.
  """
  nnx.update((model, optimizer), state)


def rng_tags(model):
  """Names of the model's RNG streams (reseeded every step)."""
  return sorted(
    {
      stream.key.tag
      for _, stream in nnx.graph.iter_graph(model)
      if isinstance(stream, nnx.RngStream)
    }
  )


def make_train_step(config, knowledge, pos_weight, model, optimizer):
  """The jitted step (state, batch, step) -> (new state, loss terms).

  The terms are float32 scalars: the loss parts (`loss`, `expr_loss`,
  `au_loss`), `accuracy` (of the expression head; mixup targets count by
  their argmax) and `finite` (loss and new parameters).

  `state` is `nnx.state((model, optimizer))`, donated if `config.donate`.
  The step is a plain `jax.jit` over that pytree (Flax's split/merge
  pattern): calling an `nnx.jit` function with the modules themselves walks
  their graph in Python on every call, 3-6 ms a step (benchmarks/README.md).
  Dropout/drop-path keys are `fold_in(seed, step)`, so a resumed run draws
  the same ones as an uninterrupted run.
  """
  knowledge = jnp.asarray(knowledge, jnp.float32)
  pos_weight = jnp.asarray(pos_weight, jnp.float32)

  def loss_fn(model, batch, step):
    del step
    soft = batch['label'].ndim == 2  # mixup targets carry their smoothing
    expr_logits, au_logits = model(batch['video'])
    expr_logits = expr_logits.astype(jnp.float32)
    loss, terms = loss_lib.audfer_loss(
      expr_logits,
      au_logits.astype(jnp.float32),
      batch['label'],
      batch['au_label'],
      batch['au_valid'],
      knowledge=knowledge,
      pos_weight=pos_weight,
      au_lambda=config.au_lambda,
      label_smoothing=0.0 if soft else config.label_smoothing,
    )
    label = batch['label'].argmax(-1) if soft else batch['label']
    accuracy = (expr_logits.argmax(-1) == label).mean(dtype=jnp.float32)
    return loss, dict(terms, accuracy=accuracy)

  return _jitted_step(config, model, optimizer, loss_fn)


# Folded into the seed for the masks, apart from the dropout keys.
_MASK_STREAM = 0x6D61736B  # 'mask'


def pretrain_masks(model, seed, step, batch_size):
  """The masks of a pre-training model for the global batch of `step`.

  Clip i of the batch gets `model.masks(key(seed, step, i))`: a pure
  function of the seed, the step and the clip's place in the global batch
  (which the input pipeline makes the same clip however many processes
  read it), so a resumed run hides the same tokens as an uninterrupted one.
  """
  key = jax.random.fold_in(jax.random.key(seed), _MASK_STREAM)
  key = jax.random.fold_in(key, step)
  keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(batch_size))
  return jax.vmap(lambda k: model.masks(k, 1)[0])(keys)


def make_pretrain_step(config, model, optimizer):
  """The jitted step of a pre-training model (`task='pretrain'`): as
  `make_train_step`'s, on the reconstruction loss of `pretrain_masks`; the
  terms are `loss` and `finite`. Labels, if the data has any, are unused."""

  def loss_fn(model, batch, step):
    video = batch['video']
    mask = pretrain_masks(model, config.seed, step, video.shape[0])
    loss = model(video, mask).loss
    return loss, {'loss': loss}

  return _jitted_step(config, model, optimizer, loss_fn)


def _jitted_step(config, model, optimizer, loss_fn):
  """`make_train_step`'s step around `loss_fn(model, batch, step)` ->
  (loss, float32 terms)."""
  base_key = jax.random.key(config.seed)
  tags = rng_tags(model)
  graphdef = nnx.graphdef((model, optimizer))

  @functools.partial(jax.jit, donate_argnums=0 if config.donate else ())
  def train_step(state, batch, step):
    model, optimizer = nnx.merge(graphdef, state)
    key = jax.random.fold_in(base_key, step)
    nnx.reseed(
      model, **{tag: jax.random.fold_in(key, i) for i, tag in enumerate(tags)}
    )
    grad_fn = nnx.value_and_grad(
      lambda model: loss_fn(model, batch, step), has_aux=True
    )
    (loss, terms), grads = grad_fn(model)
    optimizer.update(model, grads)
    # A finite loss can still give a non-finite update: check the new state.
    params = nnx.state(model, nnx.Param)
    finite = jnp.isfinite(loss) & jnp.isfinite(optax.tree.norm(params))
    return nnx.state((model, optimizer)), dict(terms, finite=finite)

  return train_step


def make_reconstruct(config, model, optimizer, mesh, num_clips):
  """A jitted (state, batch, step) -> (video, mask, pred) of the first
  `num_clips` clips of the step's batch, with the step's masks, replicated
  on every device (every process calls it and can read it)."""
  graphdef = nnx.graphdef((model, optimizer))
  replicated = jax.NamedSharding(mesh, jax.P())

  @functools.partial(jax.jit, out_shardings=replicated)
  def reconstruct(state, batch, step):
    model, _ = nnx.merge(graphdef, state)
    model.eval()  # no drop path
    video = batch['video']
    mask = pretrain_masks(model, config.seed, step, video.shape[0])
    video, mask = video[:num_clips], mask[:num_clips]
    return video, mask, model(video, mask).pred.astype(jnp.float32)

  return reconstruct


def compile_in_background(train_step, abstract_modules, batches, mesh):
  """Fetches the first batch and compiles `train_step` for it, in a thread.

  The caller builds the model meanwhile: XLA compiles without holding the
  GIL, so with two free cores a run's start-up is the longer of the two
  rather than their sum (benchmarks/README.md). `abstract_modules` are the
  (model, optimizer) shapes of `abstract_model_and_optimizer`; their state
  is replicated over `mesh` as `create_model_and_optimizer` places it, so
  the loop's first call finds the compiled step in the jit cache.

  Returns:
    A future of `batches` ((step, batch) pairs), the first one included.
  """
  replicated = jax.NamedSharding(mesh, jax.P())
  abstract_state = jax.tree.map(
    lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=replicated),
    nnx.state(abstract_modules),
  )

  def fetch_and_compile():
    first = next(batches, None)
    if first is None:  # resumed after the last step
      return iter(())
    step, batch = first
    with jax.set_mesh(mesh):
      train_step.lower(abstract_state, batch, step).compile()
    return itertools.chain([first], batches)

  executor = futures.ThreadPoolExecutor(1)
  future = executor.submit(fetch_and_compile)
  executor.shutdown(wait=False)  # the thread ends with its task
  return future
