"""MAE-DFER with the AU-DFER loss on MAFW, reference hyper-parameters.

Select the fold with `--config.fold=1..5`."""

from configs import common


def get_config():
  config = common.get_base_config()
  # The 7 basic classes: the knowledge presets have rows for those only
  # (for 11_classes pass `--config.knowledge=` a JSON file from
  # `python -m audfer_jax.method`).
  common.set_dataset(config, 'mafw/7_classes')
  common.set_mae_dfer(config, sampling_rate=4, batch_size=32)
  return config
