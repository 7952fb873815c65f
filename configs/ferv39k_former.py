"""Former-DFER with the AU-DFER loss on FERV39k, reference hyper-parameters."""

from configs import common


def get_config():
  config = common.get_base_config()
  common.set_dataset(config, 'ferv39k')
  # Sampling as AU-DFER's Former-DFER_AU/dataloader/dataset_FERV39K.py:
  # TSN 8 x 2, random start per segment in training, centres at test.
  common.set_former_dfer(config)
  return config
