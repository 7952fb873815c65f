"""Event files on resume: the summaries after the checkpoint are dropped."""

import glob

import tensorflow as tf

from audfer_jax.training import summaries


def _write(logdir, steps):
  writer = tf.summary.create_file_writer(str(logdir))
  with writer.as_default():
    for step in steps:
      tf.summary.scalar('loss', float(step), step=step)
  writer.close()


def _steps(logdir):
  steps = []
  for path in sorted(glob.glob(str(logdir / 'events.out.tfevents.*'))):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      steps += [event.step] * len(event.summary.value)
  return steps


def test_drop_after_keeps_the_steps_up_to_the_checkpoint(tmp_path):
  _write(tmp_path, range(0, 8))  # killed at step 7, checkpoint at 4
  summaries.drop_after(tmp_path, 4)
  assert _steps(tmp_path) == [0, 1, 2, 3, 4]
  summaries.drop_after(tmp_path, 4)  # nothing left to drop
  assert _steps(tmp_path) == [0, 1, 2, 3, 4]


def test_drop_after_step_zero_drops_everything(tmp_path):
  _write(tmp_path, [0, 1, 2])  # killed before the first checkpoint
  summaries.drop_after(tmp_path, 0)
  assert _steps(tmp_path) == []


def test_a_file_cut_off_mid_record_is_repaired(tmp_path):
  _write(tmp_path, [1, 2, 3])
  (path,) = glob.glob(str(tmp_path / 'events.out.tfevents.*'))
  with open(path, 'rb') as f:
    data = f.read()
  with open(path, 'wb') as f:
    f.write(data[:-5])  # the last record, half written
  summaries.drop_after(tmp_path, 5)
  assert _steps(tmp_path) == [1, 2]
