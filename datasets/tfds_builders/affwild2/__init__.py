"""Aff-Wild2 builder (importing it registers `affwild2`)."""

from tfds_builders.affwild2.affwild2_dataset_builder import Builder

__all__ = ['Builder']
