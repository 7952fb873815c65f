"""What every command does around its work: the command line, process
start-up (XLA flags, TensorFlow, the compilation cache), jax.distributed and
quiet library logs."""
