"""au_faces builder (importing it registers `au_faces`)."""

from tfds_builders.au_faces.au_faces import AuFaces
from tfds_builders.au_faces.au_faces import AuFacesConfig

__all__ = ['AuFaces', 'AuFacesConfig']
