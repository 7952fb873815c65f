"""A stand-in for OpenFace's FeatureExtraction, for run_openface's tests.

`conftest.py` puts it first on PATH as the `fake_openface` fixture.
"""

import stat
import sys

from tfds_builders import facs

AUS_R = [f'{a}_r' for a in facs.AU_INTENSITY_NAMES]
AUS_C = [f'{a}_c' for a in facs.AU_PRESENCE_NAMES]
HEADER = (
  ['frame', 'face_id', 'timestamp', 'confidence', 'success'] + AUS_R + AUS_C
)

SCRIPT = """\
#!{python}
# Stand-in for OpenFace FeatureExtraction: one CSV row per frame, frames in
# lexicographic order, other files (faces.csv) ignored as OpenFace's -fdir
# does; every frame tracked (confidence 0.9), every AU at intensity 1 and
# present; logs each call; fails for clip folders named 0003.
import pathlib, sys
IMAGES = ('.jpg', '.jpeg', '.png', '.bmp')
args = sys.argv[1:]
fdir = pathlib.Path(args[args.index('-fdir') + 1])
out = pathlib.Path(args[args.index('-out_dir') + 1])
with open({log!r}, 'a') as log:
  log.write(str(fdir) + '\\n')
if fdir.name == '0003':
  sys.exit('cannot detect face')
frames = sorted(p.name for p in fdir.iterdir() if p.suffix in IMAGES)
header = {header!r}
lines = [', '.join(header)]
for k, name in enumerate(frames, 1):
  lines.append(', '.join([str(k), '0', '0', '0.9', '1'] + ['1'] * 35))
out.mkdir(parents=True, exist_ok=True)
(out / (fdir.name + '.csv')).write_text('\\n'.join(lines) + '\\n')
(out / (fdir.name + '_of_details.txt')).write_text('details')
"""


def install(bin_dir, log):
  """Writes the executable `bin_dir/FeatureExtraction`, logging to `log`."""
  bin_dir.mkdir()
  script = bin_dir / 'FeatureExtraction'
  script.write_text(
    SCRIPT.format(python=sys.executable, log=str(log), header=HEADER)
  )
  script.chmod(script.stat().st_mode | stat.S_IEXEC)
