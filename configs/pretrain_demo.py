"""The CPU demo of pre-training: a tiny MAE-DFER autoencoder on au_faces.

  python run.py --config configs/pretrain_demo.py --workdir /tmp/pretrain
  python run.py --config configs/finetune_demo.py --workdir /tmp/finetune \
    --config.init_from=/tmp/pretrain

configs/pretrain_mae_dfer.py's recipe at the tiny model's 8 x 32 x 32
input, on the synthetic au_faces (generated on first use), labels ignored.
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
  config.log_every_steps = 20
  config.image_every_steps = 100
  config.checkpoint_every_steps = 200
  # As configs/demo.py: XLA's own CPU code, cached between runs.
  config.xla_preset = 'none'
  return config
