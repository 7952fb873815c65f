"""TFDS builders for dynamic facial expression datasets with OpenFace AUs.

Importing this package registers `dfew`, `ferv39k`, `mafw`, `ravdess`,
`affwild2`, `au_faces` and `video_folder` (a folder of your own videos)
with TFDS. It depends on neither JAX nor audfer_jax.
"""

# Importing the builder packages registers them with TFDS.
from tfds_builders import affwild2 as affwild2
from tfds_builders import au_faces as au_faces
from tfds_builders import dfew as dfew
from tfds_builders import ferv39k as ferv39k
from tfds_builders import mafw as mafw
from tfds_builders import ravdess as ravdess
from tfds_builders import video_folder as video_folder
from tfds_builders.errors import DatasetLayoutError as DatasetLayoutError
from tfds_builders.folds import fold_splits as fold_splits
