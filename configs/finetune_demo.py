"""The CPU demo's fine-tuning: tiny MAE-DFER on au_faces from a pre-training.

  python run.py --config configs/pretrain_demo.py --workdir /tmp/pretrain
  python run.py --config configs/finetune_demo.py --workdir /tmp/finetune \
    --config.init_from=/tmp/pretrain

MAE-DFER's fine-tuning recipe (configs/common.py `set_mae_dfer`) at the
tiny model's 8 x 32 x 32 input. The encoder is the pre-training demo's
(configs/pretrain_demo.py), whose LGI regions span the token frame's width.
"""

from configs import common


def get_config():
  config = common.get_base_config()
  common.set_dataset(config, 'au_faces')
  common.set_mae_dfer(config, sampling_rate=2, batch_size=32)
  config.model = 'mae_dfer_tiny'
  # The encoder of `mae_dfer_pretrain_tiny`: regions of 2 x 2 x 4 tokens.
  config.model_overrides.region_size = (2, 2, 4)
  config.init_from = ''  # --config.init_from=<the pre-training workdir>
  # As configs/pretrain_demo.py: the middle of au_faces' frames, no
  # resize to a square first (its frames are square).
  config.center_crop = 0.7
  config.augment.resize_first = False
  config.num_epochs = 20
  config.warmup_epochs = 2
  config.xla_preset = 'none'
  return config
