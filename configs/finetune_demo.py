"""The CPU demo's fine-tuning: tiny MAE-DFER on au_faces from a pre-training.

  python run.py --config configs/pretrain_demo.py --workdir /tmp/pretrain
  python run.py --config configs/finetune_demo.py --workdir /tmp/finetune \
    --config.init_from=/tmp/pretrain

MAE-DFER's fine-tuning recipe (configs/common.py `set_mae_dfer`) at the
tiny model's 8 x 32 x 32 input, without its lr scaling, layer decay and
regularisers: with them, the pre-trained and the fresh encoder both
predicted neutral for every test clip after 4 and 12 epochs. Without them
the fresh tiny model (194k parameters, 1000 training clips) still learns
little beyond the class prior in 30 epochs, the pre-trained one a little
more (README, "Pre-trained against from scratch, on au_faces"). The
encoder is the pre-training demo's (configs/pretrain_demo.py), whose LGI
regions span the token frame's width.
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
  # The paper's 1e-3 x batch / 256 (1.25e-4 here) is for a ViT-B-sized
  # encoder; the tiny one takes the demos' 1e-3 (configs/demo.py,
  # configs/pretrain_demo.py; 3e-3 and 1e-2 did no better, README).
  # Layer decay 0.75 would slow its patch embedding and 2 blocks further
  # (x 0.42, 0.56, 0.75): none.
  config.learning_rate = 1e-3
  config.lr_batch_scale = False
  config.layer_decay = 0.0
  # The paper's regularisers are for 100 epochs of a large model; this
  # one underfits (from scratch its training loss stays at the entropy
  # of the class frequencies), so they go, as in configs/demo.py:
  # no mixup/cutmix, RandAugment, random erasing, label smoothing or drop
  # path, and a milder crop (80-100 % of the area, the faces fill it).
  config.augment.mixup = 0.0
  config.augment.cutmix = 0.0
  config.augment.randaugment_n = 0
  config.augment.random_erasing = 0.0
  config.label_smoothing = 0.0
  config.model_overrides.drop_path_rate = 0.0
  config.augment.crop_area = (0.8, 1.0)
  config.num_epochs = 30  # not the paper's 100: a few CPU minutes a run
  config.warmup_epochs = 2
  # The 2-view evaluation of the 300 test clips costs about a sixth of an
  # epoch's compute: every 5th epoch (and the last).
  config.eval_every_epochs = 5
  config.xla_preset = 'none'
  return config
