"""MAE-DFER with the AU-DFER loss on DFEW, reference hyper-parameters.

Select the fold with `--config.fold=1..5`."""

from configs import common


def get_config():
  config = common.get_base_config()
  # The full-length clips: a window at rate 4 needs more than 16 frames.
  common.set_dataset(config, 'dfew/clip_224x224')
  common.set_mae_dfer(config, sampling_rate=4, batch_size=32)
  return config
