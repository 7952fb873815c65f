"""DFEW builder (importing it registers `dfew`)."""

from tfds_builders.dfew.dfew import Dfew

__all__ = ['Dfew']
