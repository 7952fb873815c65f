"""MAE-DFER fine-tuned on a folder of your own labelled face videos.

  python -m tfds_builders.face_crop --manual_dir /data/my_videos
  python run.py --config configs/own_videos_mae.py --workdir runs/my_videos \
    --config.manual_dir=/data/my_videos \
    --config.data_dir=~/tensorflow_datasets/my_videos \
    --config.init_from=checkpoints/mae_dfer_voxceleb2

The folder holds the videos (any tree) and labels.csv (path,label,split) or
train.csv and test.csv (path,label); the first run prepares
`video_folder/labelled` from it (tfds_builders/video_folder). Classes are
the CSV's labels. K's rows are looked up by class name: the paper's K has
the 7 basic expressions (happy, sad, neutral, angry or anger, surprise,
disgust, fear); for other classes pass `--config.knowledge=uniform` or a K
extracted with `python -m audfer_jax.method`. Clips without OpenFace AUs
leave the AU loss out (au_valid False): without any, this trains the
baseline.
"""

from configs import common


def get_config():
  config = common.get_base_config()
  common.set_dataset(config, 'video_folder/labelled')
  # DFEW's recipe (configs/dfew_mae.py): a window at rate 4, batch 32.
  common.set_mae_dfer(config, sampling_rate=4, batch_size=32)
  # The paper's K by class name, pos_weight from the training split.
  config.knowledge = 'paper'
  config.pos_weight_preset = ''
  return config
