"""Former-DFER with the AU-DFER loss on DFEW, reference hyper-parameters.

Select the fold with `--config.fold=1..5`."""

from configs import common


def get_config():
  config = common.get_base_config()
  # The 16-frame clips, as the Former-DFER_AU code.
  common.set_dataset(config, 'dfew/clip_224x224_16f')
  common.set_former_dfer(config)
  # The AU-DFER runs behind the paper's Former-DFER numbers
  # (Former-DFER_AU/dataloader/dataset_DFEW.py `get`) feed all 16 frames of
  # the clip, not Former-DFER's 8 x 2 TSN frames; in temporal order here,
  # in unsorted `glob` order there.
  config.sampling = 'all_frames'  # clean: 'segments'
  return config
