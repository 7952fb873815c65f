"""au_faces builder (importing it registers `au_faces`)."""

from tfds_builders.au_faces.au_faces_dataset_builder import AuFacesConfig
from tfds_builders.au_faces.au_faces_dataset_builder import Builder

__all__ = ['AuFacesConfig', 'Builder']
