"""The worker pool of the preparation stages, and the `workers` argument.

That workers write the same files as one process is tested on the FERV39k
dummy data (test_ferv39k.py); that their errors stay those of one process,
with nothing prepared, in test_bad_input.py.
"""

import os

import pytest
import tensorflow_datasets as tfds

from tfds_builders import prepare
from tfds_builders import workers


def test_ordered_map_returns_in_item_order_from_other_processes(tmp_path):
  # os.readlink of links to '0', '1', ... gives back the item's number, and
  # of /proc/self the process that read it.
  links = []
  for i in range(17):
    links.append(tmp_path / f'link{i}')
    links[-1].symlink_to(str(i))
  items = [*links, '/proc/self', '/proc/self']
  got = list(workers.ordered_map(os.readlink, items, 2, chunk_size=3))
  assert got[:17] == [str(i) for i in range(17)]
  assert str(os.getpid()) not in got[17:]


def test_ordered_map_in_one_process_calls_in_order():
  calls = []
  got = workers.ordered_map(lambda x: calls.append(x) or -x, [3, 1, 2], 1)
  assert list(got) == [-3, -1, -2] and calls == [3, 1, 2]


@pytest.mark.parametrize('bad', ['0', '-3', 'two'])
def test_prepare_rejects_bad_workers(bad, tmp_path, capsys):
  with pytest.raises(SystemExit) as exit_:
    prepare.main(['ferv39k', '--manual_dir', str(tmp_path), '--workers', bad])
  assert exit_.value.code == 2
  err = capsys.readouterr().err
  assert err.startswith('error: ') and err.count('\n') == 1, err
  assert '--workers' in err and bad in err, err


def test_builder_rejects_bad_workers(tmp_path):
  with pytest.raises(ValueError, match=r'ferv39k: workers: must be an'):
    tfds.builder('ferv39k', data_dir=tmp_path, workers=0)


def test_default_workers_one_per_cpu_and_per_128_clips(tmp_path, monkeypatch):
  monkeypatch.setattr(workers, 'cpu_count', lambda: 8)
  sizes = {}
  for clips in (100, 300, 5000):
    builder = tfds.builder('ferv39k', data_dir=tmp_path, workers=None)
    executor, sizes[clips] = builder._worker_pool(clips)
    assert (executor is None) == (sizes[clips] == 1)
    if executor is not None:
      executor.shutdown()  # no process was started: none was asked for
  # 100 // 128 = 0 -> in this process; 300 // 128 = 2; 5000: the 8 CPUs.
  assert sizes == {100: 1, 300: 2, 5000: 8}
