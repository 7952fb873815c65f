"""MAE-DFER on MAFW's 11 classes, as MAE-DFER's own MAFW script: the baseline.

sunlicai/MAE-DFER `scripts/mafw/finetune_local_global_attn_depth16_region_
size2510_with_diff_target_164.sh` fine-tunes on the 11 classes with the
DFEW settings (16 frames at rate 4, batch 32, lr 1e-3). AU-DFER ran no MAFW
and K's presets have no rows for contempt, anxiety, helplessness and
disappointment, so this config trains the baseline: au_lambda 0, where K
enters no loss (`uniform` only gives every class a row). For the AU loss on
11 classes, extract K from MAFW's training folds (`python -m
audfer_jax.method`) and pass `--config.knowledge=K.json
--config.au_lambda=0.25`.

Select the fold with `--config.fold=1..5`."""

from configs import common


def get_config():
  config = common.get_base_config()
  common.set_dataset(config, 'mafw/11_classes')
  common.set_mae_dfer(config, sampling_rate=4, batch_size=32)
  config.knowledge = 'uniform'
  config.au_lambda = 0.0
  return config
