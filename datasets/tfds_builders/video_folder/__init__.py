"""Video-folder builder (importing it registers `video_folder`)."""

from tfds_builders.video_folder.video_folder_dataset_builder import Builder

__all__ = ['Builder']
