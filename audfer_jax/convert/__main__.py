"""CLI: convert a PyTorch checkpoint into an Orbax checkpoint.

  python -m audfer_jax.convert --model m3dfel --checkpoint r3d_18.pth \
      --out /tmp/m3dfel_k400 [--num_classes 7]

Needs PyTorch: `pip install -e '.[torch]'`. The output directory can be
restored with `common.load_converted` (the trainer's `init_from`).
"""

import argparse
import os
import sys

from audfer_jax import cli
from audfer_jax.convert import MODEL_NAMES


class _Parser(argparse.ArgumentParser):
  def error(self, message):
    cli.fail(f'{message} (python -m audfer_jax.convert --help)')


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
  try:
    import torch  # noqa: F401  The conversion reads the file with torch.
  except ImportError:
    raise cli.UsageError(
      "converting needs PyTorch: pip install -e '.[torch]'"
    ) from None


def main(argv=None) -> int:
  parser = _Parser(prog='python -m audfer_jax.convert')
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
  print(f'Saved {args.model} ({args.num_classes} classes) to {path}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
