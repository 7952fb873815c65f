"""Learning-rate schedules and optimizers of the three reference recipes."""

import functools
import math

from flax import nnx
import jax
import jax.numpy as jnp
import optax

from audfer_jax import models


def cosine_schedule(
  base_lr, total_steps, warmup_steps, warmup_lr, min_lr, warmup_prefix
):
  """Per-step linear warmup then cosine decay (timm `CosineLRScheduler`).

  Args:
    base_lr: peak learning rate.
    total_steps: length of the schedule in steps.
    warmup_steps: linear warmup from `warmup_lr` to `base_lr`.
    warmup_lr: learning rate at step 0.
    min_lr: learning rate at the end of the cosine.
    warmup_prefix: True starts the cosine after the warmup (MAE-DFER); False
      evaluates it at the absolute step, timm's default that M3DFEL uses, so
      the rate drops at the end of the warmup to the cosine's value there.

  Returns:
    A function step -> learning rate.
  """

  def schedule(step):
    step = jnp.asarray(step, jnp.float32)
    warm = warmup_lr + (base_lr - warmup_lr) * step / max(warmup_steps, 1)
    if warmup_prefix:
      t = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
    else:
      t = step / max(total_steps, 1)
    t = jnp.clip(t, 0.0, 1.0)
    cos = min_lr + 0.5 * (base_lr - min_lr) * (1 + jnp.cos(math.pi * t))
    return jnp.where(step < warmup_steps, warm, cos)

  return schedule


def step_schedule(base_lr, steps_per_epoch, step_epochs, gamma):
  """PyTorch `StepLR` stepped per epoch, as a per-step function."""

  def schedule(step):
    epoch = jnp.asarray(step) // steps_per_epoch
    return base_lr * gamma ** (epoch // step_epochs).astype(jnp.float32)

  return schedule


def create_schedule(config, steps_per_epoch, total_steps):
  """The schedule named by `config.schedule`, with the peak lr scaled."""
  base_lr = peak_learning_rate(config)
  if config.schedule == 'step':
    return step_schedule(
      base_lr, steps_per_epoch, config.step_epochs, config.step_gamma
    )
  if config.schedule == 'cosine':
    scale = base_lr / config.learning_rate
    return cosine_schedule(
      base_lr,
      total_steps,
      int(round(config.warmup_epochs * steps_per_epoch)),
      config.warmup_lr * scale,
      config.min_lr * scale,
      config.warmup_prefix,
    )
  raise ValueError(f'config.schedule: unknown schedule {config.schedule!r}.')


def peak_learning_rate(config):
  """`config.learning_rate`, times batch/256 when `lr_batch_scale` is set."""
  if config.lr_batch_scale:
    return config.learning_rate * config.batch_size / 256
  return config.learning_rate


# sunlicai/MAE-DFER's `no_weight_decay()` names: modeling_pretrain.py
# `PretrainVisionTransformer` and modeling_finetune.py `VisionTransformer`
# (each model has only its own; the union serves both).
MAE_DFER_NO_WEIGHT_DECAY = frozenset(
  ('pos_embed', 'cls_token', 'mask_token', 'part_tokens', 'lg_region_tokens')
)


def decay_mask(params, exempt='tokens'):
  """True for parameters that get weight decay (`config.wd_exclude_1d`).

  Never for 1-D parameters (biases, norm scales, q/v biases). `exempt`
  'tokens' (clean) spares every parameter whose path names a position
  embedding or a token, at any depth. 'mae_dfer_upstream' is
  sunlicai/MAE-DFER optim_factory.py `get_parameter_groups`: it spares a
  name ending in '.bias' or one of `no_weight_decay()`'s names, compared
  with the full, prefixed parameter name, so only top-level parameters
  match (the JAX models keep the authors' names): the pre-training
  model's `encoder/lg_region_tokens` is decayed, its `mask_token` not.
  """

  def keep(path, x):
    keys = [str(getattr(k, 'key', k)) for k in path]
    name = '/'.join(keys)
    if exempt == 'mae_dfer_upstream':
      return (
        x.ndim != 1
        and keys[-1] != 'bias'
        and name not in MAE_DFER_NO_WEIGHT_DECAY
      )
    return x.ndim > 1 and 'pos_embed' not in name and 'token' not in name

  return jax.tree_util.tree_map_with_path(keep, params)


def scale_by_tree(scales):
  """Multiplies each update by its entry in `scales` (layer-wise lr decay)."""

  def update_fn(updates, state, params=None):
    del params
    return jax.tree.map(lambda u, s: u * s, updates, scales), state

  return optax.GradientTransformation(
    lambda params: optax.EmptyState(), update_fn
  )


def lr_scales(config, model):
  """The lr multipliers of `config.layer_decay` for `model`, or None (0).

  The model's registry entry assigns the scales (MAE-DFER: decay ** (depth +
  1 - layer)); they come as pure arrays, the tree optax sees.
  """
  if not config.layer_decay:
    return None
  return nnx.as_pure(models.lr_scales(config.model, model, config.layer_decay))


def create_optimizer(config, schedule, layer_scales=None):
  """The optax transformation of `config.optimizer`.

  Args:
    config: the run config.
    schedule: step -> learning rate.
    layer_scales: optional tree of per-parameter lr multipliers, shaped like
      the parameters optax sees (`nnx.as_pure(nnx.state(model, nnx.Param))`).

  Returns:
    An `optax.GradientTransformation`.
  """
  # A callable mask sees the tree optax is given (nnx.Optimizer passes pure
  # arrays, not Param variables).
  mask = None
  if config.wd_exclude_1d:
    mask = functools.partial(decay_mask, exempt=config.wd_exempt)
  if config.optimizer == 'adamw':
    tx = optax.adamw(
      schedule,
      b1=config.betas[0],
      b2=config.betas[1],
      eps=config.eps,
      weight_decay=config.weight_decay,
      mask=mask,
    )
  elif config.optimizer == 'sgd':
    # PyTorch SGD adds the L2 term to the gradient before momentum.
    tx = optax.chain(
      optax.add_decayed_weights(config.weight_decay, mask),
      optax.sgd(schedule, momentum=config.momentum),
    )
  else:
    raise ValueError(
      f'config.optimizer: unknown optimizer {config.optimizer!r}.'
    )
  parts = []
  if config.grad_clip_norm > 0:
    parts.append(optax.clip_by_global_norm(config.grad_clip_norm))
  parts.append(tx)
  if layer_scales is not None:
    parts.append(scale_by_tree(layer_scales))
  return optax.chain(*parts)
