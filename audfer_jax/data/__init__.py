"""Input: annotations, fold protocols, frame sampling, augmentation and the
tf.data pipeline that feeds the step."""
