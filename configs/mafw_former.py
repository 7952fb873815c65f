"""Former-DFER with the AU-DFER loss on MAFW's 7 basic classes.

Select the fold with `--config.fold=1..5`."""

from configs import common


def get_config():
  config = common.get_base_config()
  common.set_mafw7(config)
  # The AU-DFER code has no MAFW runs: Former-DFER's published TSN.
  common.set_former_dfer(config)
  return config
