"""The datasets' fold protocols, and how a config selects a fold.

The builders know their folds: `tfds_builders.folds.PROTOCOLS` lists the
datasets with a k-fold protocol and their number of folds. The config files
(`configs/common.py`), the experiments' plan and the input pipeline ask this
module, which reads that one list. Importing `tfds_builders.folds` the usual
way first imports its package, which registers every builder with TensorFlow
Datasets (seconds, and TensorFlow); the config files and the command lines'
checks run before that, so until the package is imported this module loads
the file `folds.py` on its own (it imports nothing at load time).

A config selects fold `config.fold` of its dataset's protocol with
`config.train_split = config.test_split = FOLD` (`set_fold`); configs stored
before this spelling (a run's config.json) hold '' for both, which still
means the same (`selects_fold`).
"""

import functools
import importlib
import importlib.util
import os
import sys

# Both splits FOLD: fold `config.fold` of the dataset's protocol.
FOLD = 'fold'
# What both splits held for the same meaning in configs stored before FOLD.
_STORED_BEFORE = ''


@functools.cache
def _protocols():
  """`tfds_builders.folds`, without importing its package if not yet."""
  if 'tfds_builders' in sys.modules:
    return importlib.import_module('tfds_builders.folds')
  package = importlib.util.find_spec('tfds_builders')
  if package is None:
    raise ImportError('No module named tfds_builders (dfer-datasets)')
  path = os.path.join(package.submodule_search_locations[0], 'folds.py')
  spec = importlib.util.spec_from_file_location('_tfds_builders_folds', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def num_folds(dataset):
  """The folds of a TFDS name ('builder' or 'builder/config'); 0: none."""
  return _protocols().num_folds(dataset)


def datasets():
  """The builders with a fold protocol ('dfew', 'mafw')."""
  return tuple(_protocols().PROTOCOLS)


def selects_fold(train_split, test_split):
  """Whether the two splits mean 'fold `config.fold`' (FOLD, or '' as
  stored by older runs)."""
  return train_split == test_split and train_split in (FOLD, _STORED_BEFORE)


def set_fold(config, fold=None):
  """Points `config`'s splits at fold `fold` (default: `config.fold`)."""
  if fold is not None:
    config.fold = fold
  config.train_split = config.test_split = FOLD


def fold_splits(dataset, fold):
  """TFDS split strings (train, test) of fold `fold` of `dataset`.

  Raises:
    ValueError: `dataset` has no folds, or no fold `fold`.
  """
  n = num_folds(dataset)
  if not n:
    raise ValueError(
      f'{dataset!r} has no folds; folds are the protocol of '
      f'{", ".join(datasets())}'
    )
  return _protocols().fold_splits(fold, n)
