"""MAE-DFER with the AU-DFER loss on DFEW, reference hyper-parameters.

Select the fold with `--config.fold=1..5`."""

from configs import common


def get_config():
  return common.build('dfew', 'mae')
