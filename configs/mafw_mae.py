"""MAE-DFER with the AU-DFER loss on MAFW's 7 basic classes.

Select the fold with `--config.fold=1..5`."""

from configs import common


def get_config():
  config = common.get_base_config()
  common.set_mafw7(config)
  common.set_mae_dfer(config, sampling_rate=4, batch_size=32)
  return config
