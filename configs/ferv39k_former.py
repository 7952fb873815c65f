"""Former-DFER with the AU-DFER loss on FERV39k, reference hyper-parameters."""

from configs import common


def get_config():
  config = common.get_base_config()
  common.set_dataset(config, 'ferv39k')
  common.set_former_dfer(config)
  return config
