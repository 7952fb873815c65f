"""TFDS builders for dynamic facial expression datasets with OpenFace AUs.

Importing this package registers `dfew`, `ferv39k`, `mafw` and `au_faces`
with TFDS. It depends on neither JAX nor audfer_jax.
"""
