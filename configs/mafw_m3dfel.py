"""M3DFEL with the AU-DFER loss on MAFW's 7 basic classes.

Select the fold with `--config.fold=1..5`."""

from configs import common


def get_config():
  config = common.get_base_config()
  common.set_mafw7(config)
  # The AU-DFER code has no MAFW runs: M3DFEL's published sampler.
  common.set_m3dfel(config)
  return config
