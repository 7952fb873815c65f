"""Each input: face crops, windows, predictions, outputs."""

import io
import os

from absl import logging
import numpy as np
from PIL import Image

from audfer_jax import progress
from audfer_jax.predict import model as model_lib
from audfer_jax.predict import report
from audfer_jax.predict import timeline
from audfer_jax.predict import windows as windows_lib
from tfds_builders import clip_reader
from tfds_builders import facs
from tfds_builders.errors import DatasetLayoutError
from tfds_builders.face_crop import decode
from tfds_builders.face_crop import detector as detector_lib
from tfds_builders.face_crop import writer

FACES_DIRNAME = 'faces'
_SHOWN_FACES = 6


def face_frames(item, size, detector):
  """(folder of face frames, frame rate or None) of an input item.

  Raises:
    VideoError: the video cannot be decoded or has no face.
  """
  if item.kind == 'frames':
    return item.path, None
  faces = item.output / FACES_DIRNAME
  writer.write_clip(item.path, faces, detector, size)  # skipped when done
  return faces, decode.frame_rate(item.path)


def predict_item(predictor, item, frames_dir, window, stride, batch_size, fps):
  """Predicts over the JPEG frames of `frames_dir` (those of `item`); writes
  the outputs to `item.output`.

  Returns:
    The per-window rows (see `report.rows`).

  Raises:
    DatasetLayoutError: the frames are not numbered one each, or one does
      not decode.
  """
  # As the builders read a clip: every frame must decode, one size.
  _, jpegs = clip_reader.read_frames(frames_dir)
  spans = windows_lib.windows(len(jpegs), window, stride)
  batches = -(-len(spans) // batch_size)
  console = progress.Progress(batches, every_secs=5.0)
  expression, aus = model_lib.predict_windows(
    predictor, jpegs, spans, batch_size, on_batch=console
  )
  names, au_names = predictor.class_names, list(facs.AU_PRESENCE_NAMES)
  rows = report.rows(spans, expression, aus, names, au_names, fps)
  output = item.output
  os.makedirs(output, exist_ok=True)
  meta = {
    'input': str(item.path),
    'frames': str(frames_dir),
    'model': predictor.config.model,
    'weights': predictor.loaded,
    'num_frames': len(jpegs),
    'fps': fps,
    'window': window,
    'stride': stride,
    'class_names': names,
    'au_names': au_names,
  }
  report.write_json(output / 'predictions.json', meta, rows)
  report.write_csv(output / 'predictions.csv', rows, names, au_names)
  shown = np.linspace(0, len(jpegs) - 1, min(_SHOWN_FACES, len(jpegs)))
  shown = shown.round().astype(int)
  faces = [
    np.asarray(Image.open(io.BytesIO(jpegs[i])).convert('RGB')) for i in shown
  ]
  figure = timeline.draw(
    faces,
    shown,
    windows_lib.centres(spans),
    expression,
    aus,
    names,
    au_names,
    fps=fps,
    title=f'{item.path.name} ({predictor.config.model})',
  )
  figure.savefig(output / 'timeline.png')
  return rows


def predict_all(predictor, items, window, stride, batch_size, size, fps=None):
  """Predicts on every item; an input that fails is reported and skipped.

  Returns:
    The number of inputs that failed.
  """
  detector = detector_lib.HaarDetector()
  failed = 0
  for i, item in enumerate(items, 1):
    logging.info('[%d/%d] %s', i, len(items), item.path)
    try:
      frames_dir, rate = face_frames(item, size, detector)
      rows = predict_item(
        predictor,
        item,
        frames_dir,
        window,
        stride,
        batch_size,
        fps if rate is None else rate,
      )
    except (decode.VideoError, DatasetLayoutError) as e:
      print(f'error: {e}')
      failed += 1
      continue
    counts = {}
    for row in rows:
      counts[row['expression']] = counts.get(row['expression'], 0) + 1
    top = max(counts, key=counts.get)
    print(
      f'{item.path}: {len(rows)} windows, mostly {top} ({counts[top]} of '
      f'{len(rows)}); outputs in {item.output}'
    )
  return failed
