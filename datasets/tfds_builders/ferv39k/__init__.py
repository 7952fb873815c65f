"""FERV39k builder (importing it registers `ferv39k`)."""

from tfds_builders.ferv39k.ferv39k_dataset_builder import Builder

__all__ = ['Builder']
