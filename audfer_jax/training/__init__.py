"""Training: the optimizer, the jitted step, the loop around it and its
summaries."""
