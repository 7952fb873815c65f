"""Expression and AU predictions of a trained model over videos.

`python -m audfer_jax.predict --help`: faces are cropped from each video
(`tfds_builders.face_crop`), clips sampled over sliding windows as the
model's evaluation samples a clip, and per window the expression and AU
probabilities written as JSON, CSV and a timeline picture.
"""
