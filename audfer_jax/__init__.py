"""audfer-jax: AU-enhanced dynamic facial expression recognition in JAX."""
