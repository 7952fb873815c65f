"""Five-fold protocols stored once: one split per official test set.

DFEW and MAFW define 5 folds whose test sets are disjoint and cover the data.
The builders store split `set_k` = test set k, so fold k is `set_k` for testing
and the other four sets for training, with no clip stored twice.

`PROTOCOLS` is the one list of the builders with folds: trainers ask it
(`num_folds`) rather than naming DFEW and MAFW themselves. This module
imports nothing at load time, so that a command line can read it before
TensorFlow Datasets is imported (`audfer_jax.data.folds`).
"""

NUM_FOLDS = 5
# The builders (all their configs) whose stored splits are the folds' test
# sets `set_1` ... `set_<n>`, with their number of folds n.
PROTOCOLS = {'dfew': NUM_FOLDS, 'mafw': NUM_FOLDS}


def num_folds(dataset):
  """The folds of a TFDS name ('builder' or 'builder/config'); 0: none.

  >>> num_folds('mafw/11_classes'), num_folds('ferv39k')
  (5, 0)
  """
  return PROTOCOLS.get(dataset.split('/')[0], 0)


def fold_split_names(num_folds=NUM_FOLDS):
  """The stored split names: `set_1` ... `set_5`."""
  return [f'set_{k}' for k in range(1, num_folds + 1)]


def fold_splits(fold, num_folds=NUM_FOLDS):
  """TFDS split strings (train, test) of a fold of a dataset in PROTOCOLS.

  >>> fold_splits(1)
  ('set_2+set_3+set_4+set_5', 'set_1')
  """
  if not 1 <= fold <= num_folds:
    raise ValueError(f'fold must be in 1..{num_folds}, got {fold}')
  names = fold_split_names(num_folds)
  train = '+'.join(n for k, n in enumerate(names, 1) if k != fold)
  return train, names[fold - 1]


def read_folds(list_path, read):
  """{`set_k`: {clip id: label}} of the official fold lists, once checked.

  Args:
    list_path: (kind, k) -> the path of fold k's `'test'` or `'train'` list.
    read: path -> {clip id: label} of one list.

  Returns:
    Per stored split `set_k`, the test list of fold k.

  Raises:
    DatasetLayoutError: see `check_folds`.
  """
  lists = {
    kind: [
      (path, read(path))
      for path in (list_path(kind, k) for k in range(1, NUM_FOLDS + 1))
    ]
    for kind in ('test', 'train')
  }
  check_folds(lists['test'], lists['train'])
  return {
    name: clips
    for name, (_, clips) in zip(fold_split_names(), lists['test'], strict=True)
  }


def check_folds(test_sets, train_sets):
  """Checks the official fold files against the one-split-per-set layout.

  Args:
    test_sets: per fold, (file, {clip_id: label}) of its test list.
    train_sets: per fold, (file, {clip_id: label}) of its train list.

  Raises:
    DatasetLayoutError: test sets overlap, or a train list is not exactly the
      union of the other folds' test lists with the same labels.
  """
  # Here, not at the top: see the module docstring.
  from tfds_builders.errors import DatasetLayoutError

  owner = {}
  for file, clips in test_sets:
    for clip_id in clips:
      if clip_id in owner:
        raise DatasetLayoutError(
          f'{file}: clip {clip_id} is also in the test list {owner[clip_id]}; '
          'test sets of different folds must be disjoint'
        )
      owner[clip_id] = file
  for fold, (file, train) in enumerate(train_sets):
    expected = {}
    for other, (_, clips) in enumerate(test_sets):
      if other != fold:
        expected.update(clips)
    extra = sorted(set(train) - set(expected))
    absent = sorted(set(expected) - set(train))
    relabelled = sorted(
      c for c in set(train) & set(expected) if train[c] != expected[c]
    )
    if extra or absent or relabelled:
      raise DatasetLayoutError(
        f'{file}: train list of fold {fold + 1} is not the union of the other '
        f"folds' test lists: {len(extra)} extra clip(s) {extra[:5]}, "
        f'{len(absent)} missing {absent[:5]}, {len(relabelled)} with another '
        f'label {relabelled[:5]}'
      )
