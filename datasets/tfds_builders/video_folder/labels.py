"""The labels of a video folder, checked row by row before any clip is read.

Either `labels.csv` with the columns `path,label,split` (split: train or
test), or one CSV per split, `train.csv` and `test.csv`, with `path,label`.
`path` is a video relative to the folder (`id00012/abc/00001.mp4`), or a
clip folder under `frames/` given without an extension; `label` is a class
name (any text, any number of classes).
"""

import csv
import pathlib

from tfds_builders import layout
from tfds_builders.errors import DatasetLayoutError
from tfds_builders.face_crop import VIDEO_SUFFIXES

LABELS_CSV = 'labels.csv'
SPLITS = ('train', 'test')
SPLIT_CSVS = {split: f'{split}.csv' for split in SPLITS}


def label_files(manual_dir):
  """{split or None: CSV} of the folder: {None: labels.csv} or the split
  files present; {} when it has none.

  Raises:
    DatasetLayoutError: it has both kinds.
  """
  single = manual_dir / LABELS_CSV
  per_split = {
    split: manual_dir / name
    for split, name in SPLIT_CSVS.items()
    if (manual_dir / name).exists()
  }
  if single.exists() and per_split:
    names = ', '.join(p.name for p in per_split.values())
    raise DatasetLayoutError(
      f'{manual_dir}: has both {LABELS_CSV} and {names}; keep one kind '
      f'({LABELS_CSV} with a split column, or one CSV per split)'
    )
  return {None: single} if single.exists() else per_split


def clip_id(path):
  """The clip a `path` field names: the video's path without its extension."""
  path = pathlib.PurePosixPath(path)
  if path.suffix.lower() in VIDEO_SUFFIXES:
    path = path.with_suffix('')
  return str(path)


def frames_dir(manual_dir, clip):
  """The face-crop frames folder of a clip id."""
  return manual_dir / layout.FACE_CROP_DIRNAME / clip


def class_order(names):
  """Class names in label-index order: numeric names by value, then the
  others alphabetically (so '2' comes before '10')."""
  return sorted(
    set(names), key=lambda n: (0, int(n), '') if n.isdigit() else (1, 0, n)
  )


def _records(path, columns):
  """(line number, {column: field}) of each non-empty row after the header."""
  with open(path, newline='') as f:
    reader = csv.reader(f)
    rows = [(reader.line_num, row) for row in reader]
  rows = [(n, row) for n, row in rows if any(cell.strip() for cell in row)]
  if not rows:
    raise DatasetLayoutError(f'{path}: empty (no header {",".join(columns)})')
  header_line, header = rows[0]
  header = [cell.strip().lower() for cell in header]
  missing = [c for c in columns if c not in header]
  if missing:
    raise DatasetLayoutError(
      f'{path}: line {header_line}: the header has no column '
      f'{", ".join(missing)} (expected {",".join(columns)}, got '
      f'{",".join(header)})'
    )
  if len(rows) == 1:
    raise DatasetLayoutError(f'{path}: no rows after the header')
  index = {c: header.index(c) for c in columns}
  for n, row in rows[1:]:
    yield (
      n,
      {c: row[i].strip() if i < len(row) else '' for c, i in index.items()},
    )


def _check_row(manual_dir, fields):
  """(field, problem) of a row's first bad field, or None."""
  path = fields['path']
  if not path:
    return 'path', 'empty'
  parts = pathlib.PurePosixPath(path).parts
  if path.startswith('/') or '..' in parts:
    return 'path', f'{path!r} is not a path inside the folder {manual_dir}'
  if not fields['label']:
    return 'label', f'empty (the class of {path})'
  split = fields.get('split')
  if split is not None and split not in SPLITS:
    return 'split', f'unknown split {split!r} (expected train or test)'
  clip = clip_id(path)
  if frames_dir(manual_dir, clip).is_dir():
    return None
  if (manual_dir / path).is_file():
    return 'path', (
      f'{manual_dir / path} has no face-crop frames folder '
      f'{frames_dir(manual_dir, clip)}; run '
      f'{layout.FACE_CROP_COMMAND.format(manual_dir)} (a video in which it '
      'finds no face gets none: remove its row)'
    )
  return 'path', (
    f'no video {manual_dir / path} (nor a frames folder '
    f'{frames_dir(manual_dir, clip)})'
  )


def read_labels(manual_dir, files):
  """Every row of the label files, checked.

  Args:
    manual_dir: the video folder (an `epath.Path`).
    files: `label_files(manual_dir)`, not empty.

  Returns:
    ({split: {clip id: class index}}, class names in index order).

  Raises:
    DatasetLayoutError: one line naming the CSV, the line, the field and
      the problem of the first bad row (and how many other rows are bad); a
      path listed twice, within a file or across split files, is bad.
  """
  rows, problems, seen = [], [], {}
  for split, path in files.items():
    columns = ('path', 'label') + (('split',) if split is None else ())
    for line, fields in _records(path, columns):
      if 'split' in fields:
        fields['split'] = fields['split'].lower()
      where = f'{path}: line {line}'
      bad = _check_row(manual_dir, fields)
      clip = clip_id(fields['path'])
      if bad is None and clip in seen:
        bad = 'path', f'{fields["path"]} is listed twice (also {seen[clip]})'
      if bad is not None:
        problems.append(f'{where}, field {bad[0]}: {bad[1]}')
        continue
      seen[clip] = where
      rows.append((split or fields['split'], clip, fields['label']))
  if problems:
    more = len(problems) - 1
    raise DatasetLayoutError(
      problems[0] + (f' ({more} more bad row(s) after it)' if more else '')
    )
  names = class_order(label for _, _, label in rows)
  index = {name: i for i, name in enumerate(names)}
  splits = {}
  for split, clip, label in rows:
    splits.setdefault(split, {})[clip] = index[label]
  return {s: splits[s] for s in SPLITS if s in splits}, names
