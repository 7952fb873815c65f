"""The dfer-datasets distribution on its own, as another project installs it.

`make test-datasets` runs this in a fresh virtual environment that holds only
`pip install './datasets[test]'`: no JAX, no audfer_jax, and the package
imported from the installed wheel, so its data files must have shipped.
"""

import csv
import importlib.util
import pathlib
import sysconfig

import pytest
import tensorflow_datasets as tfds

import tfds_builders

PACKAGE = pathlib.Path(tfds_builders.__file__).parent
DFEW_DUMMY = PACKAGE / 'dfew' / 'dummy_data'


def test_no_jax_and_no_audfer_jax():
  assert importlib.util.find_spec('jax') is None
  assert importlib.util.find_spec('audfer_jax') is None


def test_imported_from_the_installed_wheel():
  site_packages = pathlib.Path(sysconfig.get_paths()['purelib'])
  assert PACKAGE == site_packages / 'tfds_builders'


@pytest.mark.parametrize(
  ('name', 'citation_key'),
  [
    ('dfew', 'jiang2020dfew'),
    ('ferv39k', 'wang2022ferv39k'),
    ('mafw', 'liu2022mafw'),
    ('ravdess', 'livingstone2018ravdess'),
    ('affwild2', 'kollias2019affwild2'),
    ('au_faces', 'liu2025audfer'),
    ('video_folder', 'audfer_jax_video_folder'),
  ],
)
def test_metadata_files_shipped_and_read(name, citation_key, tmp_path):
  info = tfds.builder(name, data_dir=tmp_path).info
  assert citation_key in info.citation
  readme = (PACKAGE / name / 'README.md').read_text()
  assert info.description == readme.strip()


def test_builds_au_faces_tiny(tmp_path):
  builder = tfds.builder('au_faces/tiny', data_dir=tmp_path)
  builder.download_and_prepare()
  # The tiny config's declared size: 42 train and 21 test clips.
  sizes = {
    split: sum(1 for _ in builder.as_dataset(split=split))
    for split in ('train', 'test')
  }
  assert sizes == {'train': 42, 'test': 21}


def test_reads_the_dfew_dummy_data(tmp_path):
  builder = tfds.builder('dfew/clip_224x224', data_dir=tmp_path)
  builder.download_and_prepare(
    download_config=tfds.download.DownloadConfig(manual_dir=DFEW_DUMMY)
  )
  test_lists = DFEW_DUMMY / 'EmoLabel_DataSplit' / 'test(single-labeled)'
  for k in range(1, 6):
    with open(test_lists / f'set_{k}.csv', newline='') as f:
      rows = list(csv.DictReader(f))
    expected = sorted(f'{int(row["video_name"]):05d}' for row in rows)
    assert expected, f'set_{k}.csv lists no clip'
    examples = tfds.as_numpy(builder.as_dataset(split=f'set_{k}'))
    got = sorted(ex['clip_id'].decode() for ex in examples)
    assert got == expected, f'set_{k}'
