"""M3DFEL with the AU-DFER loss on FERV39k, reference hyper-parameters."""

from configs import common


def get_config():
  config = common.get_base_config()
  common.set_dataset(config, 'ferv39k')
  common.set_m3dfel(config)
  return config
