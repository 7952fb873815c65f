"""The run directory: checkpoint kinds, a run's status, its config."""

import json
import subprocess
import sys

import ml_collections

from audfer_jax import workdir as workdir_lib


def test_checkpoint_kind(tmp_path):
  run = tmp_path / 'run'
  (run / 'checkpoints' / '12').mkdir(parents=True)
  (run / 'best' / '7').mkdir(parents=True)
  converted = tmp_path / 'converted'
  converted.mkdir()
  (converted / '_CHECKPOINT_METADATA').write_text('{}')
  kind = workdir_lib.checkpoint_kind
  assert kind(str(run)) == 'workdir'
  assert kind(str(run / 'best')) == 'directory'
  assert kind(str(run / 'checkpoints') + '/') == 'directory'
  assert kind(str(run / 'best' / '7')) == 'step'
  assert kind(str(run / 'checkpoints' / '12')) == 'step'
  assert kind(str(converted)) == 'converted'
  assert kind(str(tmp_path / 'missing')) is None
  assert kind(str(tmp_path)) is None  # holds a workdir, is none


def test_run_status(tmp_path):
  run = tmp_path / 'run'
  assert workdir_lib.run_status(str(run)) == 'not started'
  (run / 'checkpoints' / 'tmp').mkdir(parents=True)  # no step yet
  assert workdir_lib.run_status(str(run)) == 'not started'
  (run / 'checkpoints' / '40').mkdir()
  (run / 'checkpoints' / '8').mkdir()
  assert workdir_lib.steps(workdir_lib.checkpoints_dir(str(run))) == [8, 40]
  assert workdir_lib.run_status(str(run)) == 'unfinished'
  workdir_lib.write_failure(str(run), 'ValueError: x', 'Traceback ...')
  assert workdir_lib.run_status(str(run)) == 'failed'
  failure = json.loads((run / 'failed.json').read_text())
  assert failure == {'error': 'ValueError: x', 'traceback': 'Traceback ...'}
  workdir_lib.clear_failure(str(run))
  workdir_lib.clear_failure(str(run))  # nothing to clear
  assert workdir_lib.run_status(str(run)) == 'unfinished'
  (run / 'results.json').write_text('{}')
  assert workdir_lib.run_status(str(run)) == 'finished'


def test_config_round_trip(tmp_path):
  run = tmp_path / 'new' / 'run'
  assert workdir_lib.read_config(str(run)) is None
  config = ml_collections.ConfigDict({'model': 'r3d', 'crop': (112, 112)})
  workdir_lib.write_config(str(run), config)
  assert (run / 'config.json').is_file()
  assert workdir_lib.read_config(str(run)) == {
    'model': 'r3d',
    'crop': [112, 112],
  }


def test_standard_library_only():
  code = (
    'import sys; import audfer_jax.workdir; '
    "print(sorted({'jax', 'tensorflow', 'ml_collections', 'numpy', "
    "'absl'} & set(sys.modules)))"
  )
  out = subprocess.run(
    [sys.executable, '-c', code], capture_output=True, text=True, check=True
  )
  assert out.stdout.strip() == '[]'
