"""The TensorBoard event files of a run directory, made consistent on resume.

A run killed after its last checkpoint has written summaries that the
resumed run writes again (it repeats those steps); without this, the event
files hold every such step twice.
"""

import glob
import os

import tensorflow as tf


def drop_after(workdir, step):
  """Drops the summaries of `workdir`'s event files after `step`.

  At step 0 (a run that left no checkpoint) its step-0 summaries go too: the
  new run writes them again. Files with nothing to drop are left alone,
  which includes the file the new run's writer has just opened.
  """
  for path in sorted(glob.glob(os.path.join(workdir, 'events.out.tfevents.*'))):
    events, complete = _read(path)
    keep = [
      e
      for e in events
      if not e.HasField('summary')
      or e.step < step
      or (step > 0 and e.step == step)
    ]
    if complete and len(keep) == len(events):
      continue
    with tf.io.TFRecordWriter(path + '.tmp') as writer:
      for event in keep:
        writer.write(event.SerializeToString())
    os.replace(path + '.tmp', path)


def _read(path):
  """(the file's events, False when its last record was cut off)."""
  events = []
  try:
    for record in tf.data.TFRecordDataset(path):
      events.append(tf.compat.v1.Event.FromString(record.numpy()))
  except tf.errors.DataLossError:  # killed while writing
    return events, False
  return events, True
