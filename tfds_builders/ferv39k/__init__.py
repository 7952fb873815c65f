"""FERV39k builder (importing it registers `ferv39k`)."""

from tfds_builders.ferv39k.ferv39k import Ferv39k

__all__ = ['Ferv39k']
