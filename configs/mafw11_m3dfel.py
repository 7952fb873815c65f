"""M3DFEL on MAFW's 11 classes: the baseline (no AU loss).

No upstream M3DFEL or AU-DFER code runs MAFW: the M3DFEL recipe on the
11-class protocol of MAE-DFER's MAFW script (`common.set_mafw11_baseline`
says why there is no AU loss).

Select the fold with `--config.fold=1..5`."""

from configs import common


def get_config():
  config = common.get_base_config()
  common.set_mafw11_baseline(config)
  common.set_m3dfel(config)
  return config
