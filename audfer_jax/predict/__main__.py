r"""Predicts expressions and AUs over videos with a trained model.

  python -m audfer_jax.predict --workdir runs/demo --input video.mp4 \
      --output predictions
  python -m audfer_jax.predict --config configs/dfew_mae.py \
      --checkpoint checkpoints/mae_dfer_dfew --input videos/ --output out

--input is a video (mp4, avi, mov, mkv, flv, webm), a folder of face frames
(*.jpg, like a dataset clip), or a folder searched recursively for videos.
Faces are cropped from each video (OpenCV's Haar cascades; the crops go to
`<output>/<name>/faces/`), and the model sees windows of --window frames
every --stride frames, each sampled as its evaluation samples a clip. Per
input, `<output>/<name>/` gets predictions.json and predictions.csv
(per window: frames, times, expression probabilities, predicted class, the
18 AU probabilities) and timeline.png.
"""

import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from audfer_jax import workdir as workdir_lib
from audfer_jax.predict import inputs as inputs_lib
from audfer_jax.process import cli
from audfer_jax.process import quiet_logs
from audfer_jax.process import runtime

FLAGS = flags.FLAGS
flags.DEFINE_string(
  'workdir', None, 'A training run: its config.json and its best checkpoint.'
)
flags.DEFINE_enum(
  'select', 'best', ['best', 'final'], 'With --workdir: which checkpoint.'
)
config_flags.DEFINE_config_file(
  'config',
  None,
  'With --checkpoint: a configs/*.py file (the model and its sampling).',
  lock_config=True,
)
flags.DEFINE_string(
  'checkpoint',
  None,
  'With --config: a run (workdir, best/, a step) or a converted checkpoint.',
)
flags.DEFINE_string(
  'input', None, 'A video, a folder of face frames, or a folder of videos.'
)
flags.DEFINE_string('output', None, 'The folder the predictions go to.')
flags.DEFINE_integer('window', 32, 'Frames per prediction window.')
flags.DEFINE_integer('stride', 16, 'Frames between window starts.')
flags.DEFINE_integer('batch_size', 8, 'Windows per device batch.')
flags.DEFINE_integer('size', 224, 'Side of the face crops (px).')
flags.DEFINE_float(
  'fps', None, 'Frame rate of a frames folder (videos declare their own).'
)


def _parse(argv):
  """Checks the command line before TensorFlow or JAX is imported."""
  argv = cli.parse_flags(argv)
  if len(argv) > 1:
    cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
  for name in ('input', 'output'):
    if FLAGS[name].value is None:
      cli.fail(f'--{name} is required (python -m audfer_jax.predict --help)')
  with_config = FLAGS['config'].value is not None or FLAGS.checkpoint
  if bool(FLAGS.workdir) == bool(with_config):
    cli.fail('give either --workdir, or --config and --checkpoint')
  if FLAGS.workdir:
    if not os.path.isdir(FLAGS.workdir):
      cli.fail(f'--workdir {FLAGS.workdir}: no such folder')
    if not os.path.isfile(workdir_lib.config_file(FLAGS.workdir)):
      cli.fail(
        f'--workdir {FLAGS.workdir}: no config.json (runs before it was '
        'recorded): use --config FILE --checkpoint DIR'
      )
  else:
    if not FLAGS.checkpoint or FLAGS['config'].value is None:
      cli.fail('--config and --checkpoint go together')
    if not os.path.exists(FLAGS.checkpoint):
      cli.fail(f'--checkpoint {FLAGS.checkpoint}: no such file or folder')
    try:
      cli.load_config()
    except cli.UsageError as e:
      cli.fail(str(e))
  for name in ('window', 'stride', 'batch_size'):
    if FLAGS[name].value < 1:
      cli.fail(f'--{name} must be at least 1, got {FLAGS[name].value}')
  if FLAGS.size < 8:
    cli.fail(f'--size must be at least 8, got {FLAGS.size}')
  try:
    inputs_lib.items(FLAGS.input, FLAGS.output)
  except inputs_lib.InputError as e:
    cli.fail(str(e))
  return argv


def main(argv):
  del argv  # checked by _parse
  logging.get_absl_handler().addFilter(quiet_logs.QuietLibraries())
  runtime.start()
  from audfer_jax.predict import model as model_lib
  from audfer_jax.predict import pipeline

  if FLAGS.workdir:
    config, checkpoint = model_lib.workdir_config(FLAGS.workdir), FLAGS.workdir
  else:
    config, checkpoint = cli.load_config(), FLAGS.checkpoint
  try:
    predictor = model_lib.load(config, checkpoint, FLAGS.select)
  except ValueError as e:
    cli.fail(
      f'--checkpoint {checkpoint}, model {config.model}: {e}'.splitlines()[0]
    )
  logging.info('Model %s, weights: %s.', config.model, predictor.loaded)
  failed = pipeline.predict_all(
    predictor,
    inputs_lib.items(FLAGS.input, FLAGS.output),
    window=FLAGS.window,
    stride=FLAGS.stride,
    batch_size=FLAGS.batch_size,
    size=FLAGS.size,
    fps=FLAGS.fps,
  )
  if failed:
    sys.exit(f'{failed} input(s) failed (listed above)')


if __name__ == '__main__':
  app.run(main, flags_parser=_parse)
