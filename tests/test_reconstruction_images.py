"""The reconstruction pictures invert the pre-training targets."""

from flax import nnx
import numpy as np
import pytest

from audfer_jax import models
from audfer_jax.training import reconstruction_images


def _model(**overrides):
  """The tiny pre-training model's attributes, without its weights."""
  return nnx.eval_shape(
    lambda: models.create(
      'mae_dfer_pretrain_tiny', None, rngs=nnx.Rngs(0), **overrides
    )
  )


@pytest.mark.parametrize('frame_diff_group', [2, 4, 0])
@pytest.mark.parametrize('normalize', [True, False])
def test_the_targets_invert_to_the_clip(frame_diff_group, normalize):
  model = _model(frame_diff_group=frame_diff_group, normalize_target=normalize)
  rng = np.random.default_rng(0)
  pixels = rng.uniform(size=(2, 8, 32, 32, 3))
  video = (pixels - model.pixel_mean) / np.asarray(model.pixel_std)
  targets = np.asarray(model.targets(video.astype(np.float32)))
  got = reconstruction_images.invert_targets(targets, pixels, model)
  np.testing.assert_allclose(got, pixels, atol=2e-5)


def test_a_perfect_prediction_pictures_the_clip():
  model = _model()
  rng = np.random.default_rng(1)
  pixels = rng.uniform(size=(2, 8, 32, 32, 3))
  video = (pixels - model.pixel_mean) / np.asarray(model.pixel_std)
  targets = np.asarray(model.targets(video.astype(np.float32)))
  mask = np.asarray(model.masks(np.asarray([0, 7], np.uint32), 2))
  pred = targets[mask].reshape(2, -1, targets.shape[-1])
  images = reconstruction_images.reconstruction_images(video, mask, pred, model)
  assert images.shape == (2, 96, 256, 3) and images.dtype == np.uint8
  masked, rebuilt, target = np.split(images.astype(int), 3, axis=1)
  want = np.round(255 * pixels).transpose(0, 2, 1, 3, 4).reshape(2, 32, -1, 3)
  np.testing.assert_array_equal(target, want)
  assert np.abs(rebuilt - target).max() <= 1
  # 48 of the 64 tokens hidden: 3 / 4 of the first row is grey.
  assert np.mean((masked == 128).all(-1)) == pytest.approx(0.75, abs=0.01)
