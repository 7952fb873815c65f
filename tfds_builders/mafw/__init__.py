"""MAFW builder (importing it registers `mafw`)."""

from tfds_builders.mafw.mafw import Mafw

__all__ = ['Mafw']
