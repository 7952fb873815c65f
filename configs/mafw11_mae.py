"""MAE-DFER on MAFW's 11 classes, as MAE-DFER's own MAFW script: the baseline.

sunlicai/MAE-DFER `scripts/mafw/finetune_local_global_attn_depth16_region_
size2510_with_diff_target_164.sh` fine-tunes on the 11 classes with the
DFEW settings (16 frames at rate 4, batch 32, lr 1e-3). AU-DFER ran no MAFW
(`common.set_mafw11_baseline` says why there is no AU loss).

Select the fold with `--config.fold=1..5`."""

from configs import common


def get_config():
  config = common.get_base_config()
  common.set_mafw11_baseline(config)
  common.set_mae_dfer(config, sampling_rate=4, batch_size=32)
  return config
