"""Former-DFER on MAFW's 11 classes: the baseline (no AU loss).

No upstream Former-DFER or AU-DFER code runs MAFW; this is the Former-DFER
recipe on the 11-class protocol of MAE-DFER's MAFW script. K's presets have
no rows for contempt, anxiety, helplessness and disappointment, so the run
is the baseline: au_lambda 0, where K enters no loss (`uniform` only gives
every class a row). For the AU loss on 11 classes, extract K from MAFW's
training folds (`python -m audfer_jax.method`) and pass
`--config.knowledge=K.json --config.au_lambda=0.25`.

Select the fold with `--config.fold=1..5`."""

from configs import common


def get_config():
  config = common.get_base_config()
  common.set_dataset(config, 'mafw/11_classes')
  common.set_former_dfer(config)
  config.knowledge = 'uniform'
  config.au_lambda = 0.0
  return config
