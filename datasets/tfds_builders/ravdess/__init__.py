"""RAVDESS builder (importing it registers `ravdess`)."""

from tfds_builders.ravdess.ravdess_dataset_builder import Builder

__all__ = ['Builder']
