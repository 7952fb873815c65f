"""Every config field with its default value; the other configs build on it.

On its own it trains full-size M3DFEL on the synthetic au_faces dataset
with the base optimiser settings; see `common.py` for each field.
"""

from configs import common


def get_config():
  return common.get_base_config()
