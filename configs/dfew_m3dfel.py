"""M3DFEL with the AU-DFER loss on DFEW, reference hyper-parameters.

Select the fold with `--config.fold=1..5`."""

from configs import common


def get_config():
  config = common.get_base_config()
  # The 16-frame clips, as the M3DFEL_AU code.
  common.set_dataset(config, 'dfew/clip_224x224_16f')
  common.set_m3dfel(config)
  return config
