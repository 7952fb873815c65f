"""The CPU demo of pre-training: a tiny MAE-DFER autoencoder on au_faces.

  python run.py --config configs/pretrain_demo.py --workdir /tmp/pretrain
  python run.py --config configs/finetune_demo.py --workdir /tmp/finetune \
    --config.init_from=/tmp/pretrain

configs/pretrain_mae_dfer.py's recipe at the tiny model's 8 x 32 x 32
input, on the synthetic au_faces (generated on first use), labels ignored,
with the clean crop and weight-decay exemptions (below).
"""

from configs import common
from configs import pretrain_mae_dfer


def get_config():
  config = pretrain_mae_dfer.get_config()
  common.set_dataset(config, 'au_faces')
  config.model = 'mae_dfer_pretrain_tiny'
  # au_faces clips have 16-24 frames: 8 frames 2 apart fit in every one.
  config.sampling_rate = 2
  # The faces fill the middle of au_faces' 64x64 frames (configs/demo.py).
  config.center_crop = 0.7
  config.batch_size = config.eval_batch_size = 32
  config.num_epochs = 20
  config.warmup_epochs = 2
  # A tiny model learns at a higher rate than the ViT-B-sized one.
  config.learning_rate = 1e-3
  config.lr_batch_scale = False
  # The random resized crop and the clean exemptions, not the recipe's
  # GroupMultiScaleCrop and name filter: that crop cost the demo about a
  # fifth of its steps/s (124 steps, 2-core VM at load 8-9: 2.3-2.7 against
  # 2.9-3.3 steps/s, 2 runs each), and README's au_faces comparison ran
  # with these. The recipe's: --config.augment.crop=group_multiscale
  # --config.wd_exempt=mae_dfer_upstream.
  config.augment.crop = 'random_resized'
  config.wd_exempt = 'tokens'
  config.log_every_steps = 20
  config.image_every_steps = 100
  config.checkpoint_every_steps = 200
  # As configs/demo.py: XLA's own CPU code, cached between runs.
  config.xla_preset = 'none'
  return config
