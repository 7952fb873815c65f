"""What the trainer needs of the method: K and pos_weight for a dataset."""

from audfer_jax.data import annotations
from audfer_jax.method import knowledge
from audfer_jax.method import pos_weight as pos_weight_lib


def _load_pos_weight(config, builder, train_split):
  """pos_weight from the training split's labels, or the config's preset."""
  if config.pos_weight_preset:
    return pos_weight_lib.pos_weight_preset(
      config.pos_weight_preset, config.pos_weight
    )
  labels = annotations.read_labels(builder, train_split)
  return pos_weight_lib.compute_pos_weight(
    labels['au_label'],
    labels['au_valid'],
    labels['label'],
    config.pos_weight,
    builder.info.features['label'].num_classes,
  )


def build_objective(config, builder, train_split):
  """(K [C, 18], pos_weight [18] or [C, 18]) of `config` on a dataset.

  K's rows follow the dataset's class names (`config.knowledge`: a preset
  or a JSON file); pos_weight follows `config.pos_weight` and
  `config.pos_weight_preset`, counted on `train_split` (never test data).
  """
  class_names = builder.info.features['label'].names
  return (
    knowledge.load_knowledge(config.knowledge, class_names),
    _load_pos_weight(config, builder, train_split),
  )
