"""DFEW builder (importing it registers `dfew`)."""

from tfds_builders.dfew.dfew_dataset_builder import Builder

__all__ = ['Builder']
