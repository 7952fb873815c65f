"""Per-window predictions as JSON and CSV."""

import csv
import json

import numpy as np


def _named(names, values):
  return {n: round(float(v), 5) for n, v in zip(names, values, strict=True)}


def rows(spans, expression, aus, class_names, au_names, fps):
  """One dict per window: frames, times, predicted class, probabilities."""
  out = []
  for (start, end), e, a in zip(spans, expression, aus, strict=True):
    out.append(
      {
        'start_frame': int(start),
        'end_frame': int(end - 1),  # inclusive
        'start_s': None if fps is None else round(start / fps, 3),
        'end_s': None if fps is None else round((end - 1) / fps, 3),
        'expression': class_names[int(np.argmax(e))],
        'probabilities': _named(class_names, e),
        'au_probabilities': _named(au_names, a),
      }
    )
  return out


def write_json(path, meta, windows):
  """`meta` (model, weights, names, ...) and the windows' rows."""
  with open(path, 'w') as f:
    json.dump({**meta, 'windows': windows}, f, indent=1)


def write_csv(path, windows, class_names, au_names):
  """Flat columns: window, frames, times, expression, p_<class>, <AU>."""
  head = ['window', 'start_frame', 'end_frame', 'start_s', 'end_s']
  head += ['expression', *(f'p_{n}' for n in class_names), *au_names]
  with open(path, 'w', newline='') as f:
    out = csv.writer(f)
    out.writerow(head)
    for i, w in enumerate(windows):
      out.writerow(
        [i, w['start_frame'], w['end_frame'], w['start_s'], w['end_s']]
        + [w['expression']]
        + [w['probabilities'][n] for n in class_names]
        + [w['au_probabilities'][n] for n in au_names]
      )
