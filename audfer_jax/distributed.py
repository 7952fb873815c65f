"""Joining a multi-process run: `jax.distributed` with a bounded wait.

No JAX at import: run.py checks that the coordinator answers before it
loads TensorFlow and JAX.
"""

import socket
import time


def wait_for_coordinator(address, timeout):
  """Returns once `address` (host:port) accepts connections.

  XLA's own connection attempt ends the process with a fatal log after its
  timeout; this check fails first, in one line that names the address.

  Raises:
    ConnectionError: nothing answered within `timeout` seconds.
  """
  host, _, port = address.rpartition(':')
  deadline = time.monotonic() + timeout
  while True:
    try:
      with socket.create_connection((host.strip('[]'), int(port)), timeout=5):
        return
    except OSError as e:
      if time.monotonic() >= deadline:
        raise ConnectionError(
          f'--coordinator_address {address}: no coordinator answered within '
          f'{timeout} s ({e.strerror or e}); is process 0 running, and is '
          'the address reachable from this host?'
        ) from None
      time.sleep(0.5)


def initialize(address, num_processes, process_id, timeout):
  """`jax.distributed.initialize`, on a plain cluster when `address` is set.

  Without `address` JAX reads the cluster (Slurm, Kubernetes, Cloud TPU)
  from the environment. On CPUs the processes exchange data with gloo.
  """
  import jax

  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  if address is None:
    jax.distributed.initialize(initialization_timeout=timeout)
    return
  jax.distributed.initialize(
    address, num_processes, process_id, initialization_timeout=timeout
  )
