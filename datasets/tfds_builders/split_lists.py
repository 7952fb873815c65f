"""The official split lists: one labelled clip per line.

DFEW lists are CSVs with a header (`video_name,label`); MAFW and FERV39k
lists are two whitespace-separated fields per line (`00025.mp4 anger`,
`Action/Happy/0267 Happy`). One reader checks what they have in common: the
file exists, every line has its two fields, and no clip is listed twice.
"""

import csv

from etils import epath

from tfds_builders.errors import DatasetLayoutError


def read_split_list(path, parse, *, dataset, form, csv_columns=None):
  """{clip id: label} of one split list of `dataset`.

  Args:
    path: the list.
    parse: (clip field, label field) -> (clip id, label); raises ValueError
      naming the problem, which the error completes with the file and line.
    dataset: the dataset's name, for errors.
    form: what a line looks like, for errors (e.g. '<clip>.mp4 <label>').
    csv_columns: for a CSV with a header, the names of its clip and label
      columns; None for whitespace-separated fields without a header.

  Returns:
    {clip id: label}, in file order.

  Raises:
    DatasetLayoutError: the file is missing or malformed, a label is
      unknown, or a clip is listed twice.
  """
  path = epath.Path(path)
  if not path.exists():
    raise DatasetLayoutError(f'{path}: {dataset} split file is missing')
  lines = [
    (number, text)
    for number, text in enumerate(path.read_text().splitlines(), start=1)
    if text.strip()
  ]
  if csv_columns is None:
    rows = [(number, text, text.split()) for number, text in lines]
  else:
    rows = _csv_rows(path, lines, csv_columns)
  clips = {}
  for number, text, fields in rows:
    if len(fields) != 2:
      raise DatasetLayoutError(
        f'{path}: line {number} is not `{form}`: {text!r}'
      )
    try:
      clip_id, label = parse(*fields)
    except ValueError as e:
      raise DatasetLayoutError(f'{path}: line {number}: {e}') from None
    if clip_id in clips:
      raise DatasetLayoutError(f'{path}: clip {clip_id} is listed twice')
    clips[clip_id] = label
  return clips


def check_word(word, words):
  """`word` if it is one of `words`, else a ValueError for `parse`."""
  if word not in words:
    raise ValueError(
      f'unknown label {word!r} (expected one of {", ".join(words)})'
    )
  return word


def _csv_rows(path, lines, columns):
  """(line number, text, [clip, label]) of each row after the header."""
  rows = [(number, text, next(csv.reader([text]))) for number, text in lines]
  header = [cell.strip() for cell in rows[0][2]] if rows else []
  if not set(columns) <= set(header):
    raise DatasetLayoutError(
      f'{path}: expected a header with columns {",".join(columns)}, '
      f'got {header}'
    )
  index = [header.index(column) for column in columns]
  return [
    (number, text, [cells[i] for i in index] if len(cells) > max(index) else [])
    for number, text, cells in rows[1:]
  ]
