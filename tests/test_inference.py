"""The evaluation forward (`inference.forward`): views averaged."""

from flax import nnx
import jax
import numpy as np
import pytest

from audfer_jax import inference
from audfer_jax import models


def test_two_views_average_each_views_softmax():
  model = models.create('r3d_18_tiny', 7, rngs=nnx.Rngs(0))
  model.eval()
  t, s, _, _ = models.input_shape('r3d_18_tiny')
  rng = np.random.default_rng(0)
  video = rng.random((2, 2, t, s, s, 3), np.float32)  # [B, V, T, H, W, 3]
  out = inference.InferenceModel.of(model)(video, return_feature=True)
  # Each view on its own, through the plain model.
  probs, au, feature = [], [], []
  for v in range(2):
    e, a, f = model(video[:, v], return_feature=True)
    probs.append(jax.nn.softmax(e))
    au.append(a)
    feature.append(f)
  assert out.probs.shape == (2, 7) and out.au_probs.shape == (2, 18)
  np.testing.assert_allclose(out.probs, np.mean(probs, 0), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(
    out.au_logits, np.mean(au, 0), rtol=1e-5, atol=1e-6
  )
  np.testing.assert_allclose(
    out.au_probs, jax.nn.sigmoid(np.mean(au, 0)), rtol=1e-5
  )
  np.testing.assert_allclose(
    out.feature, np.mean(feature, 0), rtol=1e-5, atol=1e-6
  )
  assert out.probs.sum(-1) == pytest.approx([1.0, 1.0], abs=1e-5)
  # Without the feature, the same probabilities.
  plain = inference.InferenceModel.of(model)(video)
  assert plain.feature is None
  np.testing.assert_allclose(plain.probs, out.probs, rtol=1e-5, atol=1e-6)
