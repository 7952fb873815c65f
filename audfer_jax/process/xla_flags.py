"""XLA flags the project sets at start-up, before JAX creates a backend.

XLA reads `XLA_FLAGS` once, when the first computation starts a backend, so
`configure()` must run before that (run.py and the benchmarks call it first).
Flags already in `XLA_FLAGS` are kept and win over the project's values.

CPU: XLA's own convolution emitter is slow on x86 (3-5x behind PyTorch on
the 3-D convolutions of R3D-18 and M3DFEL, benchmarks/README.md); with
`--xla_cpu_experimental_onednn_custom_call` XLA calls oneDNN, the library
PyTorch uses, for convolutions and matmuls. The flag only affects the CPU
backend, so it is harmless on GPU hosts.

GPU: no flag is set by default; `extra` (or the `AUDFER_XLA_FLAGS`
environment variable) adds any, e.g. the ones benchmarks/README.md lists.
"""

import os
import sys

# preset name -> flags. 'none' leaves XLA's defaults (for A/B runs).
PRESETS = {
  'default': '--xla_cpu_experimental_onednn_custom_call=true',
  'none': '',
}


def _tokens(flags: str) -> dict[str, str]:
  """'--a=1 --b' -> {'a': '--a=1', 'b': '--b'}."""
  return {t.lstrip('-').split('=', 1)[0]: t for t in flags.split()}


def merge(current: str, *more: str) -> str:
  """`current` XLA_FLAGS plus the flags of `more` it does not name yet.

  Earlier arguments win: merge('--a=1', '--a=2 --b=3') == '--a=1 --b=3'.
  """
  tokens = {}
  for flags in (current, *more):
    for name, token in _tokens(flags).items():
      tokens.setdefault(name, token)
  return ' '.join(tokens.values())


def _backend_started() -> bool:
  if 'jax' not in sys.modules:
    return False
  from jax._src import xla_bridge

  return xla_bridge.backends_are_initialized()


def check_preset(preset: str | None) -> str:
  """`preset`, or `AUDFER_XLA_PRESET` for None/'' (default 'default').

  Raises:
    ValueError: unknown preset.
  """
  preset = preset or os.environ.get('AUDFER_XLA_PRESET', 'default')
  if preset not in PRESETS:
    raise ValueError(
      f'XLA flag preset {preset!r} is unknown; known: {", ".join(PRESETS)}'
    )
  return preset


def configure(preset: str | None = None, extra: str = '') -> str:
  """Adds the preset's flags and `extra` to `XLA_FLAGS`; returns the result.

  Args:
    preset: a key of `PRESETS`; None/'' reads `AUDFER_XLA_PRESET` (default
      'default').
    extra: more flags ('--name=value ...'), e.g. GPU flags; None/'' reads
      `AUDFER_XLA_FLAGS`.

  Raises:
    RuntimeError: a JAX backend has already started (the flags would be
      silently ignored).
    ValueError: unknown preset.
  """
  preset = check_preset(preset)
  if _backend_started():
    raise RuntimeError(
      'audfer_jax.process.xla_flags.configure() was called after a JAX backend '
      'started; call it before the first JAX computation.'
    )
  extra = extra or os.environ.get('AUDFER_XLA_FLAGS', '')
  flags = merge(os.environ.get('XLA_FLAGS', ''), extra, PRESETS[preset])
  os.environ['XLA_FLAGS'] = flags
  return flags
