"""The per-clip annotations of a prepared TFDS split, without the video.

The project's one reader of labels: the objective's pos_weight reads the
expression and AU labels through it, the knowledge extraction the per-frame
AU intensities. Only the named features are decoded (`PartialDecoding`), so
no JPEG frame is read.
"""

import numpy as np
import tensorflow_datasets as tfds

LABEL_KEYS = ('label', 'au_label', 'au_valid')


def read(builder, split, keys):
  """Yields one numpy dict per clip with the features `keys` only.

  `clip_id`, when asked for, is a `str`; clips come in the split's order.
  """
  decoders = tfds.decode.PartialDecoding({k: True for k in keys})
  ds = builder.as_dataset(split=split, decoders=decoders, shuffle_files=False)
  for example in tfds.as_numpy(ds):
    if 'clip_id' in example:
      example['clip_id'] = example['clip_id'].decode()
    yield example


def read_labels(builder, split):
  """`label`, `au_label`, `au_valid` of every clip, stacked into arrays."""
  clips = list(read(builder, split, LABEL_KEYS))
  return {k: np.stack([clip[k] for clip in clips]) for k in LABEL_KEYS}
