"""Former-DFER on MAFW's 11 classes: the baseline (no AU loss).

No upstream Former-DFER or AU-DFER code runs MAFW: the Former-DFER recipe
on the 11-class protocol of MAE-DFER's MAFW script
(`common.set_mafw11_baseline` says why there is no AU loss).

Select the fold with `--config.fold=1..5`."""

from configs import common


def get_config():
  config = common.get_base_config()
  common.set_mafw11_baseline(config)
  common.set_former_dfer(config)
  return config
