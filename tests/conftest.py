"""Test setup: 8 simulated CPU devices, set before any JAX backend starts."""

import os
import sys
import tempfile

os.environ.setdefault('JAX_NUM_CPU_DEVICES', '8')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# JAX's persistent compilation cache, which run.py and the other commands
# turn on (audfer_jax/process/runtime.py): one for all the tests' processes, away
# from the user's ~/.cache.
os.environ.setdefault(
  'JAX_COMPILATION_CACHE_DIR',
  os.path.join(tempfile.gettempdir(), 'audfer_jax_tests', 'jax_cache'),
)

# torch imports triton lazily (torch._dynamo: meta-device models, optimizers),
# and triton's LLVM aborts the process when TensorFlow's LLVM is already loaded
# ("Option 'bitcode-mdindex-threshold' registered more than once"). The tests
# use torch on the CPU only, where triton is never needed: make it
# unimportable so torch takes its no-triton path.
sys.modules['triton'] = None
