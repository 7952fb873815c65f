"""The CPU demo: a tiny Former-DFER on the synthetic au_faces dataset.

  python run.py --config configs/demo.py --workdir /tmp/demo

au_faces is generated and prepared on first use (under a minute: rendered
in one worker process per core, 25-27 s on the README's 2-core machine
otherwise idle, 47-48 s in one process; 84 s in one process at load 8-13).
Training and evaluation take a few minutes on two CPU cores (the README's
Quickstart gives the times); Former-DFER tiny learned fastest of the tiny
models on XLA CPU.
"""

from configs import common


def get_config():
  config = common.get_base_config()
  common.set_dataset(config, 'au_faces')
  common.set_m3dfel(config)  # AdamW + cosine recipe, 0..1 pixels
  config.model = 'former_dfer_tiny'
  config.init_from = ''  # fresh: no pre-trained tiny model
  # The clean TSN, 4 segments x 2 frames (the README's demo numbers).
  config.sampling = 'segments'
  config.frames_per_segment = 2
  # The faces fill the middle of au_faces' 64x64 frames: keep that part.
  config.center_crop = 0.7
  config.augment.color_jitter = 0.0
  config.augment.crop_area = (0.8, 1.0)
  # On a GPU the device crops au_faces' frames at their own 64 px.
  config.augment.device_frame_size = -1
  config.label_smoothing = 0.0
  config.batch_size = 32
  config.eval_batch_size = 64
  config.num_epochs = 60
  config.learning_rate = 1e-3
  config.warmup_epochs = 3
  config.warmup_prefix = True
  config.min_lr = 1e-5
  config.shuffle_buffer_size = 1024
  config.log_every_steps = 50
  config.checkpoint_every_steps = 500
  # oneDNN makes this tiny model's step only ~10 % faster on a CPU (33 vs
  # 37 ms), but a step that calls it is compiled anew every run: without it
  # a rerun loads the compiled step and starts several seconds sooner.
  config.xla_preset = 'none'
  return config
