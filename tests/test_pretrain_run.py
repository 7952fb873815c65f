"""Pre-training runs of run.py: loss, TensorBoard, resume, init_from, hosts.

configs/pretrain_demo.py on au_faces/tiny for 2 epochs of 5 steps (42
clips in 4 shards, 2 a shard a step): one process of 4 CPU devices (the
reference), the same run as a SIGKILL after its checkpoint of step 6
leaves it, restarted, and two processes of 2 devices over localhost
(tests/test_multiprocess.py's helpers; tests/test_resume.py kills real
runs). The reference's checkpoint then
initialises the fine-tuning demo's encoder (configs/finetune_demo.py).
"""

import glob
import math
import os
import shutil

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.compat.v1 import train as tf1_train

from audfer_jax import checkpointing
from audfer_jax import inference
from audfer_jax import models
from audfer_jax.process import cli
from audfer_jax.training import train_loop
from configs import finetune_demo
from configs import pretrain_demo
from tests import test_mae_pretrain
from tests import test_multiprocess as mp

STEPS = 10
ARGS = (
  '--config',
  f'{mp.ROOT}/configs/pretrain_demo.py',
  '--config.dataset=au_faces/tiny',
  '--config.num_epochs=2',
  '--config.warmup_epochs=1',
  '--config.batch_size=8',
  '--config.eval_batch_size=8',
  '--config.checkpoint_every_steps=3',
  '--config.log_every_steps=1',
  '--config.image_every_steps=5',
  # The recipe's crop and exemptions (the demo keeps the clean ones): resume
  # and two hosts give the same parameters with them too.
  '--config.augment.crop=group_multiscale',
  '--config.wd_exempt=mae_dfer_upstream',
)
env = mp.env  # the module's TFDS data dir, shared by its runs


def _run(name, tmp, env, n=1, faults=None, args=()):
  return mp._Processes(
    name, tmp / name, env, tmp, n=n, args=args, faults=faults, base=ARGS
  )


@pytest.fixture(scope='module')
def reference(tmp_path_factory, env):
  """One process of 4 devices, start to end (prepares au_faces/tiny).

  It holds after its checkpoint of step 6, where its workdir is copied to
  `killed/`: what a SIGKILL there leaves on disk (the checkpoint complete,
  the summaries the writer has flushed), without a run of its own.
  """
  tmp = tmp_path_factory.mktemp('pretrain')
  run = _run(
    'reference', tmp, env, faults={'PAUSE_AFTER_SAVE': 'checkpoints/6'}
  )
  run.pause_until('checkpoints/6')
  shutil.copytree(tmp / 'reference', tmp / 'killed')
  run.resume()
  run.finish()
  return tmp / 'reference', run.log(0)


def _events(workdir):
  """[(step, tag, value)] of the event files of `workdir`."""
  found = []
  for path in glob.glob(str(workdir / 'events.out.tfevents.*')):
    for event in tf1_train.summary_iterator(path):
      for value in event.summary.value:
        found.append((event.step, value.tag, tf.make_ndarray(value.tensor)))
  return found


def _params(workdir):
  """The parameters of a pre-training run's latest checkpoint, flat."""
  model = models.create('mae_dfer_pretrain_tiny', None, rngs=nnx.Rngs(0))
  assert checkpointing.load_weights(model, str(workdir)) == (
    f'{workdir}/checkpoints/{STEPS}'
  )
  leaves = jax.tree.leaves(nnx.to_pure_dict(nnx.state(model, nnx.Param)))
  return np.concatenate([np.ravel(x) for x in leaves])


def test_the_loss_falls_and_tensorboard_has_loss_lr_and_pictures(reference):
  workdir, log = reference
  events = _events(workdir)
  loss = {s: float(v) for s, t, v in events if t == 'train/loss'}
  assert sorted(loss) == list(range(1, STEPS + 1))
  first, last = np.mean([loss[s] for s in (1, 2, 3)]), loss[STEPS]
  assert last < first - 0.02, loss
  # The authors' schedule (configs/pretrain_mae_dfer.py) at lr 1e-3: from
  # warmup_lr 1e-6 over the 5 steps of an epoch, then a cosine to 1e-5 over
  # the other 5; the point of step s shows the rate step s - 1 ran with.
  lr = {s: float(v) for s, t, v in events if t == 'train/lr'}
  peak, low = 1e-3, 1e-5
  assert lr[1] == pytest.approx(1e-6)
  assert lr[3] == pytest.approx(1e-6 + (peak - 1e-6) * 2 / 5)
  for s in (6, 8, 10):
    cos = low + (peak - low) * (1 + math.cos(math.pi * (s - 6) / 5)) / 2
    assert lr[s] == pytest.approx(cos, rel=1e-5)
  pictures = {s: v for s, t, v in events if t == 'reconstruction'}
  assert sorted(pictures) == [5, 10]
  # 3 clips of 8 frames of 32 x 32: rows masked input, reconstruction,
  # target. The tiny model hides 6 of each 2 x 4 window's 8 patches (8 x 8
  # pixels) in every frame: 12 of a frame's 16, grey in the first row and
  # predicted in the second; the visible 4 are the target's in both.
  width, height, *pngs = pictures[10]
  assert (int(width), int(height), len(pngs)) == (256, 96, 3)
  for png in pngs:
    image = tf.io.decode_png(png).numpy().astype(int)
    rows = image.reshape(3, 32, 8, 32, 3).transpose(0, 2, 1, 3, 4)
    patches = rows.reshape(3, 8, 4, 8, 4, 8, 3).transpose(0, 1, 2, 4, 3, 5, 6)
    patches = patches.reshape(3, 8, 16, 8 * 8 * 3)
    grey = (patches[0] == 128).all(-1)
    assert (grey.sum(-1) == 12).all()
    assert (grey == grey[:1]).all()  # tubes: the same patches every frame
    visible = ~grey[..., None]
    assert np.array_equal(
      np.where(visible, patches[0], 0), np.where(visible, patches[2], 0)
    )
    assert np.array_equal(
      np.where(visible, patches[1], 0), np.where(visible, patches[2], 0)
    )
  assert 'step 10/10 (100%)' in log and 'ETA' in log
  assert f'--config.init_from={workdir}' in log


def test_a_killed_run_resumes_to_the_same_parameters(env, reference):
  workdir = reference[0].parent / 'killed'  # the reference at step 6
  assert sorted(os.listdir(workdir / 'checkpoints')) == ['3', '6']
  resumed = _run('killed', workdir.parent, env)
  resumed.finish()
  assert 'Resumed from step 6.' in resumed.log(0)
  got, want = _params(workdir), _params(reference[0])
  np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
  steps = [s for s, t, _ in _events(workdir) if t == 'train/loss']
  assert sorted(steps) == list(range(1, STEPS + 1))  # each point once


def test_two_processes_pre_train_as_one(tmp_path, env, reference):
  # Without pictures: compiling their forward in two processes on two
  # loaded cores took 35 s of the run's 110 s.
  run = _run('two', tmp_path, env, n=2, args=('--config.image_every_steps=0',))
  run.finish()
  workdir = tmp_path / 'two'
  # Process 0 writes the summaries; the masks follow the clip's place in
  # the global batch, not the process: the same losses up to the
  # all-reduce's rounding (AdamW amplifies it in near-zero gradients).
  got = {s: float(v) for s, t, v in _events(workdir) if t == 'train/loss'}
  want = {s: float(v) for s, t, v in _events(reference[0]) if t == 'train/loss'}
  assert sorted(got) == sorted(want)
  assert got[1] == pytest.approx(want[1], rel=1e-6)
  for s in want:
    assert got[s] == pytest.approx(want[s], rel=1e-3), s
  assert 'JAX process 1 of 2' in run.log(1)
  assert not [t for _, t, _ in _events(workdir) if t == 'reconstruction']


def test_the_run_initialises_the_fine_tuning_encoder(reference):
  workdir = reference[0]
  config = finetune_demo.get_config()
  config.init_from = str(workdir)
  model = inference.new_model(config, 7)
  assert checkpointing.load_weights(model, config.init_from) == (
    f'the encoder of {workdir}/checkpoints/{STEPS}'
  )
  pretrained = models.create(
    pretrain_demo.get_config().model, None, rngs=nnx.Rngs(0)
  )
  checkpointing.load_weights(pretrained, str(workdir))
  model.eval()
  pretrained.eval()
  video = jnp.asarray(test_mae_pretrain._video())
  tokens = test_mae_pretrain._encoder_tokens(model, video)
  everything = jnp.broadcast_to(jnp.arange(64), (2, 64))
  np.testing.assert_allclose(
    pretrained.encoder.norm(tokens),
    pretrained.encoder(video, everything),
    rtol=1e-6,
    atol=1e-6,
  )


def test_a_config_pre_training_cannot_run_stops_in_one_line(tmp_path):
  config = pretrain_demo.get_config()
  config.augment.mixup = 0.8  # as the fine-tuning recipe
  with pytest.raises(cli.UsageError, match=r'^config.augment.mixup: 0.8; '):
    train_loop.train_and_evaluate(config, str(tmp_path))
  config = pretrain_demo.get_config()
  config.normalize = 'unit'  # the targets would be ImageNet-un-normalised
  model = nnx.eval_shape(
    lambda: models.create(config.model, None, rngs=nnx.Rngs(0))
  )
  with pytest.raises(cli.UsageError, match=r"^config.normalize: 'unit' "):
    train_loop._check_pixels(config, model)
