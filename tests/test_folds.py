"""The datasets with folds come from one place: `tfds_builders.folds`.

(The copy the command lines read with TensorFlow blocked is exercised by
test_experiments' and test_cli's light command lines.)"""

import json

from audfer_jax.data import folds
from audfer_jax.data import input_pipeline
from audfer_jax.experiments import plan as plan_lib
from configs import common
import tfds_builders


def test_a_dataset_with_folds_in_the_builders_is_one_everywhere(monkeypatch):
  protocols = folds._protocols()
  assert protocols is tfds_builders.folds  # the package is imported here
  monkeypatch.setitem(protocols.PROTOCOLS, 'newds', 3)
  config = common.get_base_config()
  common.set_dataset(config, 'newds/some_config')
  assert (config.train_split, config.test_split) == ('fold', 'fold')
  runs = plan_lib.plan_runs('folds', config)
  assert [r.name for r, _ in runs] == ['fold_1', 'fold_2', 'fold_3']
  assert input_pipeline.resolve_splits(runs[2][1]) == ('set_1+set_2', 'set_3')
  common.set_dataset(config, 'ferv39k')
  assert (config.train_split, config.test_split) == ('train', 'test')


def test_a_run_stored_with_empty_fold_splits_resumes(tmp_path):
  config = common.get_base_config()
  common.set_dataset(config, 'dfew')
  runs = plan_lib.plan_runs('folds', config, folds=[1])
  stored = dict(plan_lib.config_json(runs[0][1]), train_split='', test_split='')
  (tmp_path / 'fold_1').mkdir()
  (tmp_path / 'fold_1' / 'config.json').write_text(json.dumps(stored))
  plan_lib.check_resumable(tmp_path, runs)  # '' meant 'fold' before
