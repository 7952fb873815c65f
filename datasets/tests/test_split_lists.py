"""The official split lists: errors name the file and line; folds are read."""

import pytest

from tfds_builders import folds
from tfds_builders.dfew import dfew_dataset_builder
from tfds_builders.errors import DatasetLayoutError
from tfds_builders.ferv39k import ferv39k_dataset_builder
from tfds_builders.mafw import mafw_dataset_builder


def write(path, text):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(text)
  return path


def test_dfew_csv_by_column_name_with_blank_lines(tmp_path):
  path = write(tmp_path / 'set_1.csv', 'label,video_name\n\n7,13\n1,1\n')
  assert dfew_dataset_builder.read_split_csv(path) == {'00013': 6, '00001': 0}


@pytest.mark.parametrize(
  ('text', 'message'),
  [
    ('name,label\n1,1\n', r'expected a header with columns video_name,label'),
    ('video_name,label\n1,1\n\n2\n', r'line 4 is not `video_name,label`'),
    ('video_name,label\nx,1\n', r'line 2: video_name and label must be int'),
    ('video_name,label\n1,0\n', r'line 2: unknown label 0 \(expected 1..7\)'),
    ('video_name,label\n1,1\n01,2\n', r'clip 00001 is listed twice'),
  ],
)
def test_dfew_csv_errors(tmp_path, text, message):
  path = write(tmp_path / 'set_1.csv', text)
  with pytest.raises(DatasetLayoutError, match=rf'set_1\.csv: {message}'):
    dfew_dataset_builder.read_split_csv(path)


def test_missing_list_is_named(tmp_path):
  with pytest.raises(DatasetLayoutError, match=r'test\.txt: MAFW split file'):
    mafw_dataset_builder.read_split_file(tmp_path / 'test.txt')


def test_mafw_and_ferv39k_lines(tmp_path):
  mafw = write(tmp_path / 'train.txt', '00025.mp4 anger\n\n00031.mp4 anxiety\n')
  assert mafw_dataset_builder.read_split_file(mafw) == {
    '00025': 'anger',
    '00031': 'anxiety',
  }
  ferv = write(tmp_path / 'test_All.csv', 'Action/Fear/0003 Fear\n')
  assert ferv39k_dataset_builder.read_split_file(ferv) == {
    'Action/Fear/0003': 6
  }


@pytest.mark.parametrize(
  ('read', 'text', 'message'),
  [
    (
      mafw_dataset_builder.read_split_file,
      '00025.mp4 anger\n00026.mp4 sad face\n',
      r'line 2 is not `<clip>\.mp4 <label>`',
    ),
    (
      ferv39k_dataset_builder.read_split_file,
      'Action/0003 Fear\n',
      r"line 1: clip 'Action/0003' is not Scene/Emotion/NNNN",
    ),
  ],
)
def test_whitespace_list_errors(tmp_path, read, text, message):
  path = write(tmp_path / 'list.txt', text)
  with pytest.raises(DatasetLayoutError, match=rf'list\.txt: {message}'):
    read(path)


def test_read_folds_returns_the_test_lists_by_split_name():
  # Fold k's test list is {k: k}; its train list the other four.
  test = {k: {k: k} for k in range(1, 6)}
  train = {k: {j: j for j in range(1, 6) if j != k} for k in range(1, 6)}
  lists = {'test': test, 'train': train}
  got = folds.read_folds(lambda kind, k: (kind, k), lambda p: lists[p[0]][p[1]])
  assert got == {f'set_{k}': {k: k} for k in range(1, 6)}
  train[3] = {1: 1}
  with pytest.raises(DatasetLayoutError, match=r'3\): train list of fold 3'):
    folds.read_folds(lambda kind, k: (kind, k), lambda p: lists[p[0]][p[1]])
