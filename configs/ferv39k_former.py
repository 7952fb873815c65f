"""Former-DFER with the AU-DFER loss on FERV39k, reference hyper-parameters."""

from configs import common


def get_config():
  config = common.get_base_config()
  common.set_dataset(config, 'ferv39k')
  # Sampling as AU-DFER's Former-DFER_AU/dataloader/dataset_FERV39K.py:
  # TSN 8 x 2, random start per segment in training, centres at test.
  common.set_former_dfer(config)
  # K and pos_weight of the authors' run (Cross-Innovation-Lab/AU-DFER):
  # Former-DFER_AU/main_FERV39K.py `AU_cri_set` weighs by its own FERV39k
  # matrix and the FERV39k constant pos_weight table.
  config.knowledge = 'ferv_upstream'
  config.pos_weight_preset = 'ferv39k'
  return config
