"""The one exception type for malformed dataset downloads and AU files."""


class DatasetLayoutError(ValueError):
  """A manual download or OpenFace file is missing, malformed or inconsistent.

  The message names the offending file and what is wrong with it.
  """
