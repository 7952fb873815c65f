"""A training run: data, the train step, evaluation, checkpoints and logs.

The model, optimizer and jitted step are `train.py`'s; this module feeds
them with TensorFlow's input pipeline, evaluates every epoch (with
`inference.evaluate`), checkpoints, resumes and writes the summaries (clu).

A pre-training model (`models.task(config.model) == 'pretrain'`) runs the
same loop (data, devices, checkpoints, resume, progress) on the
reconstruction loss: the labels, K, pos_weight, mixup and the evaluation
are left out, and every `config.image_every_steps` TensorBoard gets
pictures of a few clips' reconstructions (`reconstruction_images.py`).
"""

import dataclasses
import logging
import os
import sys
import time

from clu import metric_writers
from clu import parameter_overview
from clu import periodic_actions
from flax import nnx
import jax
import ml_collections
import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

from audfer_jax import checkpointing
from audfer_jax import heatmap
from audfer_jax import inference
from audfer_jax import metrics as metrics_lib
from audfer_jax import models
from audfer_jax import progress
from audfer_jax import workdir as workdir_lib
from audfer_jax.data import augment
from audfer_jax.data import input_pipeline
from audfer_jax.process import cli
from audfer_jax.training import objective
from audfer_jax.training import optim
from audfer_jax.training import reconstruction_images
from audfer_jax.training import summaries
from audfer_jax.training import train
from tfds_builders import facs

_SCALARS = ('war', 'uar', 'au_f1', 'au_accuracy')
# The train step's terms that the logs average over the steps between two
# log points.
_TRAIN_SCALARS = ('loss', 'expr_loss', 'au_loss', 'accuracy')
_PRETRAIN_SCALARS = ('loss',)
# Clips of a batch whose reconstructions TensorBoard shows.
_IMAGE_CLIPS = 3


def steps_per_epoch_and_total(config, builder, train_split):
  """(steps per epoch, total training steps) of `config` on a split, with
  one data shard per device."""
  per_epoch = input_pipeline.steps_per_epoch(
    builder, train_split, config.batch_size, jax.device_count()
  )
  total = config.num_train_steps
  if total < 0:
    total = config.num_epochs * per_epoch
  return per_epoch, total


def _check_batch_sizes(config):
  for field in ('batch_size', 'eval_batch_size'):
    if config[field] % jax.device_count():
      raise ValueError(
        f'config.{field}: {config[field]} is not a multiple of the '
        f'{jax.device_count()} devices.'
      )


@dataclasses.dataclass(frozen=True)
class _Run:
  """What the steps of a run share: its config, data and outputs."""

  config: ml_collections.ConfigDict
  workdir: str
  builder: tfds.core.DatasetBuilder
  train_split: str
  test_split: str
  # The clips held out of the training split to select the epoch
  # (config.validation_fraction), or None.
  val_split: str | None
  # What ran: config.dtype resolved on this backend ('auto' -> 'float32' or
  # 'bfloat16'). The config keeps 'auto', as config.json stores it.
  dtype: str
  shape: input_pipeline.ClipShape
  per_epoch: int
  total_steps: int
  mesh: jax.sharding.Mesh
  writer: metric_writers.MetricWriter
  # A pre-training model: no labels, no evaluation.
  pretrain: bool

  @property
  def class_names(self):
    return self.builder.info.features['label'].names

  @property
  def data_sharding(self):
    return jax.NamedSharding(self.mesh, jax.P('data'))


def _checkpoint_state(model, optimizer):
  return {
    'model': checkpointing.model_state(model),
    'optimizer': nnx.state(optimizer),
  }


def _restore(ckpt, model, optimizer, started_before):
  """Loads the latest checkpoint into the modules; returns its metadata.

  `started_before`: the checkpoint directory existed before this run.
  """
  if ckpt.latest_step() is None:
    if started_before:  # e.g. killed before its first checkpoint
      logging.info(
        'No checkpoint in %s yet (an earlier run stopped before saving '
        'one): starting at step 0.',
        ckpt.directory,
      )
    return {'step': 0, 'best': None, 'final': None, 'best_val': None}
  restored, meta = ckpt.restore(
    ckpt.latest_step(), _checkpoint_state(model, optimizer)
  )
  nnx.update(model, restored['model'])
  nnx.update(optimizer, restored['optimizer'])
  logging.info('Resumed from step %d.', meta['step'])
  return meta


def _write_run_start(run, model, knowledge):
  """What a new run logs once: parameters, hyper-parameters and K (None
  when pre-training)."""
  params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
  if jax.process_index() == 0:
    path = workdir_lib.parameters_file(run.workdir)
    with open(path, 'w') as f:
      f.write(parameter_overview.get_parameter_overview(params) + '\n')
    logging.info(
      'Parameters: %s (table: %s).',
      f'{parameter_overview.count_parameters(params):,}',
      path,
    )
  # Every field (nested ones as `augment.flip`): TensorBoard's HParams tab,
  # with the compute dtype that ran.
  run.writer.write_hparams({**run.config.to_dict(), 'dtype': run.dtype})
  if knowledge is None:
    return
  figure = heatmap.draw_heatmap(
    knowledge, run.class_names, facs.AU_PRESENCE_NAMES, title='Knowledge K'
  )
  run.writer.write_images(0, {'knowledge': heatmap.figure_to_rgb(figure)[None]})


class _TrainLog:
  """Averages the train step's terms over the steps between two log points."""

  def __init__(self, writer, batch_size, step, names=_TRAIN_SCALARS):
    self._writer, self._batch_size, self._names = writer, batch_size, names
    self._terms, self._since = [], (step, time.time())

  def add(self, terms):
    self._terms.append({k: terms[k] for k in self._names})

  def write(self, step, lr):
    """Writes the averages since the last call; returns them."""
    # Every step has the same batch size: the mean of the steps' accuracies
    # is the accuracy over their examples.
    terms = jax.device_get(self._terms)
    scalars = {
      f'train/{k}': float(np.mean([t[k] for t in terms])) for k in self._names
    }
    elapsed = time.time() - self._since[1]
    scalars['train/clips_per_sec'] = (
      (step - self._since[0]) * self._batch_size / elapsed
    )
    scalars['train/lr'] = lr
    self._writer.write_scalars(step, scalars)
    self._terms, self._since = [], (step, time.time())
    return scalars


def _check_finite(pending):
  """Raises FloatingPointError at the first step that diverged."""
  for step, terms in pending:
    if not terms['finite']:
      raise FloatingPointError(
        f'Loss {float(terms["loss"])} or parameters not finite after step '
        f'{step}; stopping. The last good checkpoint is kept (the diverged '
        'state is not saved).'
      )
  pending.clear()


def _jsonable(result):
  return {k: np.asarray(v).tolist() for k, v in result.items()}


def _evaluate_split(run, model, split):
  return inference.evaluate(
    model,
    input_pipeline.eval_batches(
      run.builder, split, run.config, run.shape, run.data_sharding
    ),
  )


def _keep_best_val(run, model, step, meta):
  """Evaluates the validation set; keeps the test result of the epoch with
  its best WAR + UAR in meta['best_val']."""
  val = _evaluate_split(run, model, run.val_split)
  run.writer.write_scalars(step, {f'val/{k}': float(val[k]) for k in _SCALARS})
  score = float(val['war'] + val['uar'])
  previous = meta.get('best_val')
  best = previous is None or score > previous['val']['score']
  logging.info(
    'Validation (step %d): WAR %.2f %%, UAR %.2f %%%s.',
    step,
    100 * val['war'],
    100 * val['uar'],
    ', best so far' if best else '',
  )
  if best:
    meta['best_val'] = dict(
      meta['final'],
      val=dict(_jsonable({k: val[k] for k in _SCALARS}), score=score),
    )


def _evaluate_and_keep_best(run, model, optimizer, step, meta, best_ckpt):
  """Evaluates on the test split (and the validation set), logs it, and
  saves a new best model."""
  result = _evaluate_split(run, model, run.test_split)
  scalars = {f'eval/{k}': float(result[k]) for k in _SCALARS}
  for name, acc in zip(
    run.class_names, result['per_class_accuracy'], strict=True
  ):
    scalars[f'eval/accuracy_{name}'] = float(acc)
  run.writer.write_scalars(step, scalars)
  image = metrics_lib.confusion_matrix_image(
    result['confusion_matrix'], run.class_names
  )
  run.writer.write_images(step, {'eval/confusion_matrix': image[None]})
  meta['final'] = dict(_jsonable(result), step=step)
  score = float(result['war'] + result['uar'])
  best = meta['best'] is None or score > meta['best']['score']
  logging.info(
    'Epoch %d/%d (step %d): WAR %.2f %%, UAR %.2f %%, AU F1 %.2f %%%s.',
    -(-step // run.per_epoch),
    -(-run.total_steps // run.per_epoch),
    step,
    100 * result['war'],
    100 * result['uar'],
    100 * result['au_f1'],
    ', best so far' if best else '',
  )
  if run.val_split:
    _keep_best_val(run, model, step, meta)
  if best:
    meta['best'] = dict(meta['final'], score=score)
    best_ckpt.save(step, _checkpoint_state(model, optimizer), meta, force=True)


def _write_results(run, meta):
  """Writes results.json and the final confusion matrix; returns results."""
  # 'reported': the entry the paper's table corresponds to; 'selected_on':
  # the split each selected entry was picked on ('best' on the test split).
  # The entries themselves hold metrics only.
  results = {
    'final': meta['final'],
    'best': meta['best'],
    'reported': run.config.reported_epoch,
    'selected_on': {'best': 'test'},
  }
  if meta.get('best_val'):  # the epoch selected on the validation set
    results['best_val'] = meta['best_val']
    results['selected_on']['best_val'] = 'validation'
  if jax.process_index() == 0:
    workdir_lib.write_json(workdir_lib.results_file(run.workdir), results)
    image = metrics_lib.confusion_matrix_image(
      np.array(results['final']['confusion_matrix']), run.class_names
    )
    Image.fromarray(image).save(workdir_lib.confusion_matrix_file(run.workdir))
  logging.info(
    'Done: final WAR %.2f %% UAR %.2f %%; best (step %d) WAR %.2f %% UAR '
    '%.2f %%.',
    100 * results['final']['war'],
    100 * results['final']['uar'],
    results['best']['step'],
    100 * results['best']['war'],
    100 * results['best']['uar'],
  )
  tensorboard = os.path.join(os.path.dirname(sys.executable), 'tensorboard')
  if not os.path.exists(tensorboard):
    tensorboard = 'tensorboard'
  logging.info(
    'Results: %s, confusion matrix: %s. Curves: %s --logdir %s',
    workdir_lib.results_file(run.workdir),
    workdir_lib.confusion_matrix_file(run.workdir),
    tensorboard,
    run.workdir,
  )
  return results


def _check_classifier_data(config, builder, test_split):
  """A classifier trains on classes and is evaluated on the test split.

  Raises:
    cli.UsageError: naming the dataset and what it lacks.
  """
  if not builder.info.features['label'].num_classes:
    raise cli.UsageError(
      f'config.dataset: {config.dataset!r} has no classes (unlabelled '
      'clips): it can pre-train a model (configs/pretrain_mae_dfer.py), '
      'not train a classifier'
    )
  try:
    builder.info.splits[test_split]
  except ValueError:  # TFDS: "Unknown split ..."
    raise cli.UsageError(
      f'config.test_split: {config.dataset!r} has no split {test_split!r} '
      f'to evaluate on (its splits: {", ".join(builder.info.splits)})'
    ) from None


def _check_pretraining(config):
  """What a pre-training run cannot do with its config.

  Raises:
    cli.UsageError: naming the field and the problem.
  """
  for name in ('mixup', 'cutmix'):
    if config.augment[name]:
      raise cli.UsageError(
        f'config.augment.{name}: {config.augment[name]}; it mixes labels, '
        f'which pre-training ({config.model}) has none of: set it to 0'
      )


def _check_pixels(config, model):
  """The pre-training model undoes the input's normalisation for its
  targets: it must be the one `config.normalize` applies."""
  mean, std = augment.pixel_stats(config.normalize)
  if not (
    np.allclose(model.pixel_mean, mean) and np.allclose(model.pixel_std, std)
  ):
    raise cli.UsageError(
      f'config.normalize: {config.normalize!r} gives clips of mean {mean} '
      f'and std {std}, but {config.model} un-normalises them with '
      f'pixel_mean {model.pixel_mean} and pixel_std {model.pixel_std} for '
      'its targets: use --config.normalize=imagenet or set '
      'config.model_overrides.pixel_mean and pixel_std'
    )


def _setup(config, workdir):
  """The run's data, splits, step counts, mesh and writer."""
  _check_batch_sizes(config)
  pretrain = models.task(config.model) == 'pretrain'
  if pretrain:
    _check_pretraining(config)
  builder = input_pipeline.get_builder(config)
  train_split, test_split = input_pipeline.resolve_splits(config)
  if not pretrain:
    _check_classifier_data(config, builder, test_split)
  val_split = None
  if config.validation_fraction and not pretrain:
    train_split, val_split = input_pipeline.hold_out_validation(
      builder, train_split, config.validation_fraction, config.seed
    )
    logging.info(
      'Validation: %d clips held out of the training split (fraction %g, '
      'stratified, seed %d); training on the other %d.',
      builder.info.splits[val_split].num_examples,
      config.validation_fraction,
      config.seed,
      builder.info.splits[train_split].num_examples,
    )
  per_epoch, total_steps = steps_per_epoch_and_total(
    config, builder, train_split
  )
  return _Run(
    config=config,
    workdir=workdir,
    builder=builder,
    train_split=train_split,
    test_split=test_split,
    val_split=val_split,
    dtype=inference.resolve_dtype(config.dtype),
    shape=inference.clip_shape(config),
    per_epoch=per_epoch,
    total_steps=total_steps,
    mesh=inference.create_mesh(config),
    writer=_create_writer(workdir),
    pretrain=pretrain,
  )


def _create_writer(workdir):
  """TensorBoard summaries in `workdir` (process 0); the console gets the
  progress and evaluation lines instead of every scalar."""
  if jax.process_index() > 0:
    return metric_writers.MultiWriter([])
  return metric_writers.AsyncMultiWriter(
    [metric_writers.SummaryWriter(workdir)]
  )


def _save(ckpt, step, model, optimizer, train_state, meta, force):
  """Checkpoints the train step's `train_state` at `step`."""
  train.sync(model, optimizer, train_state)
  ckpt.save(step, _checkpoint_state(model, optimizer), meta, force=force)


def _stop_reason(stop, ckpt, step):
  """Why the run stops after `step` ('SIGTERM', ...), or None."""
  if stop.received:
    return stop.received
  if ckpt.reached_preemption(step):
    return 'SIGTERM or SIGINT to one of the processes'
  return None


def train_and_evaluate(config, workdir):
  """Trains `config.model` on `config.dataset`, evaluating every epoch.

  Resumes from the latest checkpoint in `workdir/checkpoints`; keeps the best
  model by WAR + UAR in `workdir/best`; writes `workdir/results.json`. A
  pre-training model (the module's docstring) keeps its checkpoints only,
  which `config.init_from` of a fine-tuning run reads.

  Returns:
    The results dict ({'final': ..., 'best': ...}; pre-training: {'final':
    {'step', 'loss'}}), or None when the run stopped early on
    SIGTERM/preemption after saving a checkpoint.

  Raises:
    cli.UsageError: a config value or the named initial weights are wrong
      (`cli.check_values`, `cli.check_init_from`).
  """
  started = time.time()
  # The command-line checks (run.py and the experiments command make them
  # sooner), for callers of this function: before any data or model work.
  cli.check_values(config)
  cli.check_init_from(config)
  # orbax refuses relative checkpoint paths (`--workdir workdir/demo`).
  run = _setup(config, os.path.abspath(os.path.expanduser(workdir)))
  if jax.process_index() == 0:
    workdir_lib.write_config(run.workdir, config)
  # config.json keeps the config as given ('auto' resolves per backend where
  # the run is resumed or predicted); the logs and the HParams tab show what
  # ran (`run.dtype`).
  logging.info(
    'Compute dtype %s (config.dtype %s, %s backend).',
    run.dtype,
    config.dtype,
    jax.default_backend(),
  )
  # The same for every step: a run is a function of (seed, step) on one
  # backend (device and host augmentation draw alike, not the same bits).
  logging.info(
    'Training augmentation on the %s (config.augment.on_device %r).',
    'devices' if input_pipeline.augments_on_device(config) else 'host',
    config.augment.on_device,
  )
  knowledge = pos_weight = None
  if not run.pretrain:
    knowledge, pos_weight = objective.build_objective(
      config, run.builder, run.train_split
    )
  logging.info(
    'Data ready: %s from %s (%.1f s).',
    config.dataset,
    run.builder.data_dir,
    time.time() - started,
  )
  schedule = optim.create_schedule(config, run.per_epoch, run.total_steps)
  num_classes = None if run.pretrain else len(run.class_names)
  checkpoints = workdir_lib.checkpoints_dir(run.workdir)
  started_before = os.path.isdir(checkpoints)
  ckpt = checkpointing.Checkpointer(
    checkpoints, config.keep_checkpoints, config.checkpoint_every_steps
  )
  best_ckpt = None
  if not run.pretrain:
    best_ckpt = checkpointing.Checkpointer(workdir_lib.best_dir(run.workdir), 1)
  start_step = ckpt.latest_step() or 0  # the step _restore restores
  abstract_modules = train.abstract_model_and_optimizer(
    config, num_classes, schedule, run.dtype
  )
  if run.pretrain:
    _check_pixels(config, abstract_modules[0])
    train_step = train.make_pretrain_step(config, *abstract_modules)
    reconstruct = train.make_reconstruct(
      config, *abstract_modules, run.mesh, _IMAGE_CLIPS
    )
  else:
    train_step = train.make_train_step(
      config, knowledge, pos_weight, *abstract_modules
    )
  compiled = train.compile_in_background(
    train_step,
    abstract_modules,
    input_pipeline.prefetch_to_device(
      input_pipeline.train_batches(
        run.builder,
        run.train_split,
        config,
        run.shape,
        run.data_sharding,
        start_step,
        run.total_steps,
      ),
      config.device_prefetch,
    ),
    run.mesh,
  )
  logging.info(
    'Building %s; compiling the train step meanwhile ...', config.model
  )
  model, optimizer = train.create_model_and_optimizer(
    config, num_classes, schedule, run.mesh, run.dtype
  )
  logging.info('Model built (%.1f s).', time.time() - started)
  meta = _restore(ckpt, model, optimizer, started_before)
  for step in best_ckpt.discard_after(start_step) if best_ckpt else ():
    logging.info('Discarded best/%d: saved after step %d.', step, start_step)
  if jax.process_index() == 0:
    summaries.drop_after(run.workdir, start_step)
  if start_step == 0:
    _write_run_start(run, model, knowledge)

  model.train()  # the step's graph is the train-mode one
  train_state = nnx.state((model, optimizer))
  report = periodic_actions.ReportProgress(
    num_train_steps=run.total_steps, writer=run.writer
  )
  console = progress.Progress(run.total_steps)
  train_log = _TrainLog(
    run.writer,
    config.batch_size,
    start_step,
    _PRETRAIN_SCALARS if run.pretrain else _TRAIN_SCALARS,
  )
  stop = checkpointing.StopSignal()
  batches = compiled.result()
  logging.info(
    'Training steps %d..%d (train step compiled, %.1f s after start).',
    start_step + 1,
    run.total_steps,
    time.time() - started,
  )
  pending = []  # (step, terms) not yet checked for divergence
  try:
    with metric_writers.ensure_flushes(run.writer), jax.set_mesh(run.mesh):
      for step, batch in batches:
        with report.timed('train_step'):
          train_state, terms = train_step(train_state, batch, step)
        done = step + 1
        if done == start_step + 1:
          jax.block_until_ready(terms)
          logging.info(
            'First step done (%.1f s after start).', time.time() - started
          )
        pending.append((done, terms))
        train_log.add(terms)
        report(done)
        console(done)
        last = done == run.total_steps
        if done % config.log_every_steps == 0 or last:
          _check_finite(pending)
          logged = train_log.write(done, float(schedule(step)))
          if run.pretrain:
            meta['final'] = {'step': done, 'loss': logged['train/loss']}
        if run.pretrain:
          if _pictures_due(config, done, last):
            _write_reconstructions(
              run, model, reconstruct(train_state, batch, step), done
            )
        elif done % (run.per_epoch * config.eval_every_epochs) == 0 or last:
          _check_finite(pending)
          train.sync(model, optimizer, train_state)
          console.interrupt()
          with report.timed('eval'):
            _evaluate_and_keep_best(
              run, model, optimizer, done, meta, best_ckpt
            )
        meta['step'] = done
        preempted = _stop_reason(stop, ckpt, done)
        if preempted or done % config.checkpoint_every_steps == 0:
          _check_finite(pending)
          _save(
            ckpt, done, model, optimizer, train_state, meta, bool(preempted)
          )
          # A run resumed from this checkpoint keeps the points up to it:
          # they must be on disk if the process is killed from now on.
          run.writer.flush()
        if preempted and not last:
          logging.warning('Stopping at step %d (%s).', done, preempted)
          return None
        if preempted:  # nothing left to train: the run ends as planned
          logging.warning(
            'Stop requested at the last step %d (%s): finishing the run.',
            done,
            preempted,
          )
      _check_finite(pending)
      if ckpt.latest_step() != meta['step']:
        _save(ckpt, meta['step'], model, optimizer, train_state, meta, True)
  finally:
    stop.restore()
    ckpt.close()
    if best_ckpt:
      best_ckpt.close()
  if run.pretrain:
    return _pretraining_done(run, meta)
  return _write_results(run, meta)


def _pictures_due(config, step, last):
  """Whether pre-training shows its reconstructions after `step`."""
  every = config.image_every_steps
  return every > 0 and (step % every == 0 or last)


def _write_reconstructions(run, model, outputs, step):
  """TensorBoard's `reconstruction` pictures of `reconstruct`'s outputs
  (replicated: every process computed them; process 0 writes)."""
  if jax.process_index() > 0:
    return
  video, mask, pred = jax.device_get(outputs)
  images = reconstruction_images.reconstruction_images(video, mask, pred, model)
  run.writer.write_images(step, {'reconstruction': images})


def _pretraining_done(run, meta):
  logging.info(
    'Done: %d steps, training loss %.4f at the end. Fine-tune from it with '
    '--config.init_from=%s; curves and reconstructions: tensorboard '
    '--logdir %s',
    meta['step'],
    meta['final']['loss'],
    run.workdir,
    run.workdir,
  )
  return {'final': meta['final']}
