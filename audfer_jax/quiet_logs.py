"""A logging filter for the command lines (run.py, experiments).

Libraries whose INFO lines repeat every checkpoint or epoch (orbax: ~20 a
save; TFDS's reader: one a dataset pass) are silenced; their warnings still
show.
"""

import logging

_CHATTY_SOURCES = ('/orbax/', '/tensorflow_datasets/core/reader.py')


class QuietLibraries(logging.Filter):
  """Drops the INFO lines of `_CHATTY_SOURCES`."""

  def filter(self, record):
    return record.levelno >= logging.WARNING or not any(
      source in record.pathname for source in _CHATTY_SOURCES
    )
