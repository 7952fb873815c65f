"""Joining a multi-process run, and leaving it when another process is lost.

No JAX at import: run.py checks that the coordinator answers before it
loads TensorFlow and JAX.

JAX ends a process whose peers are gone with a fatal log (a C++ stack trace
and a dump of every Python thread), and only after its own timeouts. The
helpers here stop first, with one line that says what happened.
"""

import os
import socket
import sys
import threading
import time

# JAX's own time-outs are set this much beyond ours, so that ours fire first
# and JAX's stay the backstop.
_JAX_GRACE_SECONDS = 30
# The key-value entries of `PeerWatch` in JAX's coordination service.
_ALIVE_KEY = 'audfer_jax/alive/{}'
_DONE_KEY = 'audfer_jax/done/{}'


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


def _exit_now(message):
  """Prints `error: message` and ends the process at once, with code 1.

  `os._exit`: the main thread may be blocked in a collective with a process
  that no longer exists, and JAX's exit hooks would wait for it.
  """
  sys.stdout.flush()
  sys.stderr.write(f'error: {message}\n')
  sys.stderr.flush()
  os._exit(1)


def initialize(address, num_processes, process_id, timeout, heartbeat):
  """`jax.distributed.initialize`, on a plain cluster when `address` is set.

  Without `address` JAX reads the cluster (Slurm, Kubernetes, Cloud TPU)
  from the environment. On CPUs the processes exchange data with gloo. When
  not every process has joined within `timeout` seconds, the process stops
  with one line (exit code 1). `heartbeat` bounds how long JAX takes to
  declare a silent process dead (its default is 100 s, and 300 s to shut
  down).
  """
  import jax

  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  joined = threading.Event()

  def give_up():
    if not joined.is_set():
      _exit_now(
        f'not every process joined {address or "the cluster"} within '
        f'{timeout} s (--coordinator_timeout): start all '
        f'{num_processes or "of the"} processes with the same '
        '--coordinator_address and --num_processes, each with its own '
        '--process_id.'
      )

  timer = threading.Timer(timeout, give_up)
  timer.daemon = True
  timer.start()
  jax.distributed.initialize(
    address,
    num_processes,
    process_id,
    initialization_timeout=timeout + _JAX_GRACE_SECONDS,
    heartbeat_timeout_seconds=heartbeat + _JAX_GRACE_SECONDS,
    shutdown_timeout_seconds=heartbeat + _JAX_GRACE_SECONDS,
  )
  joined.set()
  timer.cancel()


class PeerWatch:
  """Stops this process with one line when another process is lost.

  Every `interval` seconds each process writes a counter to JAX's
  key-value store and reads the others'. A process whose counter has not
  moved for `timeout` seconds (killed, its host gone, or stopped) is lost:
  the others would wait for it in their next all-reduce until JAX's
  heartbeat ends them with a fatal log. A process that leaves the run
  normally says so first (`close`).
  """

  def __init__(self, timeout, interval=1.0):
    import jax
    from jax._src import distributed as jax_distributed

    self._client = jax_distributed.global_state.client
    self._me, self._count = jax.process_index(), jax.process_count()
    self._timeout, self._interval = timeout, interval
    self._stop = threading.Event()
    self._thread = threading.Thread(
      target=self._watch, name='PeerWatch', daemon=True
    )
    self._thread.start()

  def _value(self, key):
    try:
      return self._client.key_value_try_get(key)
    except Exception:  # JAX raises its own error type for a missing key
      return None

  def _watch(self):
    seen = {p: (None, time.monotonic()) for p in range(self._count)}
    beat = 0
    while not self._stop.wait(self._interval):
      beat += 1
      try:
        self._client.key_value_set(
          _ALIVE_KEY.format(self._me), str(beat), allow_overwrite=True
        )
      except Exception as e:  # the coordinator (process 0) is gone
        _exit_now(
          f'lost the coordinator (process 0) of this run ({e}); re-run the '
          'same commands on every host to resume from the latest checkpoint.'
        )
      now = time.monotonic()
      for p in range(self._count):
        if p == self._me or self._value(_DONE_KEY.format(p)) is not None:
          continue
        value = self._value(_ALIVE_KEY.format(p))
        if value != seen[p][0]:
          seen[p] = (value, now)
        elif now - seen[p][1] > self._timeout and not self._stop.is_set():
          _exit_now(
            f'process {p} of {self._count} was lost (no sign of life for '
            f'{self._timeout} s, --heartbeat_timeout); stopping. Re-run the '
            'same commands on every host to resume from the latest '
            'checkpoint.'
          )

  def close(self):
    """Tells the other processes that this one leaves normally."""
    self._stop.set()
    self._thread.join()
    self._client.key_value_set(_DONE_KEY.format(self._me), '1')
