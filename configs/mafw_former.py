"""Former-DFER with the AU-DFER loss on MAFW, reference hyper-parameters.

Select the fold with `--config.fold=1..5`."""

from configs import common


def get_config():
  return common.build('mafw', 'former')
