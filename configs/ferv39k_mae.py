"""MAE-DFER with the AU-DFER loss on FERV39k, reference hyper-parameters."""

from configs import common


def get_config():
  return common.build('ferv39k', 'mae')
