"""CLI: convert a PyTorch checkpoint into an Orbax checkpoint.

  python -m audfer_jax.convert --model m3dfel --checkpoint r3d_18.pth \
      --out /tmp/m3dfel_k400 [--num_classes 7]

The output directory can be restored with `common.load_converted` (the
trainer's `init_from`).
"""

import argparse
import sys

from audfer_jax.convert import common
from audfer_jax.convert import convert


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog='python -m audfer_jax.convert')
  parser.add_argument('--model', required=True, help='registry model name')
  parser.add_argument('--checkpoint', required=True, help='PyTorch .pth file')
  parser.add_argument('--out', required=True, help='output directory')
  parser.add_argument('--num_classes', type=int, default=7)
  args = parser.parse_args(argv)
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
