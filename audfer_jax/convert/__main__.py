"""CLI: convert a PyTorch checkpoint into an Orbax checkpoint.

  python -m audfer_jax.convert --model m3dfel --checkpoint r3d_18.pth \
      --out /tmp/m3dfel_k400 [--num_classes 7]
  python -m audfer_jax.convert kinetics400 [--from r3d_18-b3b3357e.pth]

Needs PyTorch: `pip install -e '.[torch]'`. The output directory can be
restored with `common.load_converted` (the trainer's `init_from`).
`kinetics400` gets torchvision's Kinetics-400 r3d_18 weights (downloaded
through torch.hub's cache, or the file given with --from) and converts them
once into the cache that `config.init_from='kinetics400'` reads
(`kinetics.py`).
"""

import argparse
import os
import sys

from audfer_jax import models
from audfer_jax.convert import MODEL_NAMES
from audfer_jax.convert import kinetics
from audfer_jax.process import cli


class _Parser(argparse.ArgumentParser):
  def error(self, message):
    cli.fail(f'{message} ({self.prog} --help)')


def _check_torch():
  try:
    import torch  # noqa: F401  The conversion reads the file with torch.
  except ImportError:
    raise cli.UsageError(
      "converting needs PyTorch: pip install -e '.[torch]'"
    ) from None


def _check(args):
  """Checks the arguments before JAX or torch is imported.

  Raises:
    cli.UsageError: naming the argument and the problem.
  """
  if args.model not in MODEL_NAMES:
    raise cli.UsageError(
      f'--model {args.model}: no conversion for it; the models are '
      f'{", ".join(MODEL_NAMES)}'
    )
  if not os.path.isfile(args.checkpoint):
    raise cli.UsageError(f'--checkpoint {args.checkpoint}: no such file')
  if args.num_classes < 1:
    raise cli.UsageError(f'--num_classes {args.num_classes}: must be >= 1')
  _check_torch()


def _kinetics_main(argv):
  """`kinetics400 [--from FILE]`: torchvision's weights into the cache."""
  parser = _Parser(
    prog=kinetics.COMMAND,
    description="Converts torchvision's Kinetics-400 r3d_18 weights once "
    f'into {kinetics.cache_path()} (${kinetics.ENV} moves it), where '
    f"config.init_from='{kinetics.NAME}' (the M3DFEL configs) finds them.",
  )
  parser.add_argument(
    '--from',
    dest='source',
    help=f'the downloaded {kinetics.FILE_NAME} ({kinetics.URL}); without '
    "it the file is downloaded into torch.hub's cache (or found there)",
  )
  args = parser.parse_args(argv)
  try:
    if args.source is not None and not os.path.isfile(args.source):
      raise cli.UsageError(f'--from {args.source}: no such file')
    _check_torch()
  except cli.UsageError as e:
    cli.fail(str(e))
  from audfer_jax.convert import common

  try:
    source = args.source or kinetics.download()
  except (OSError, RuntimeError) as e:  # no network, or a bad download
    print(
      f'error: cannot download {kinetics.URL} ({e}); download it where you '
      f'are online and run {kinetics.COMMAND} --from {kinetics.FILE_NAME}',
      file=sys.stderr,
    )
    return 1
  try:
    path = kinetics.convert_to_cache(source)
  except (common.ConversionError, ValueError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  print(
    f'Saved the Kinetics-400 r3d_18 trunk of {source} to {path}; '
    f"config.init_from='{kinetics.NAME}' (the M3DFEL configs) loads it."
  )
  return 0


def main(argv=None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  if argv and argv[0] == kinetics.NAME:
    return _kinetics_main(argv[1:])
  parser = _Parser(
    prog='python -m audfer_jax.convert',
    epilog=f'{kinetics.COMMAND} [--from {kinetics.FILE_NAME}]: '
    "torchvision's Kinetics-400 r3d_18 weights for the M3DFEL configs "
    f"(config.init_from='{kinetics.NAME}'); see its --help.",
  )
  parser.add_argument('--model', required=True, help='registry model name')
  parser.add_argument('--checkpoint', required=True, help='PyTorch .pth file')
  parser.add_argument('--out', required=True, help='output directory')
  parser.add_argument('--num_classes', type=int, default=7)
  args = parser.parse_args(argv)
  try:
    _check(args)
  except cli.UsageError as e:
    cli.fail(str(e))
  from audfer_jax.convert import common
  from audfer_jax.convert import convert

  try:
    model = convert(args.model, args.checkpoint, args.num_classes)
  except (common.ConversionError, ValueError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  path = common.save_converted(model, args.out)
  if models.task(args.model) == 'pretrain':
    print(f'Saved {args.model} (encoder and decoder) to {path}')
  else:
    print(f'Saved {args.model} ({args.num_classes} classes) to {path}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
