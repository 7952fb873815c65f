"""MAFW builder (importing it registers `mafw`)."""

from tfds_builders.mafw.mafw_dataset_builder import Builder

__all__ = ['Builder']
