"""The trainer on a folder of one's own videos (tfds_builders/video_folder).

The folder is what the face-crop stage writes (frames/<clip>/00001.jpg, ...,
in make_dummy_data's encoding) with a labels.csv of two classes named as
CREMA-D's, and OpenFace CSVs for half of the clips.
"""

import json

import jax
import make_dummy_data
import numpy as np
import pytest
import tensorflow_datasets as tfds

from audfer_jax import inference
from audfer_jax.data import input_pipeline
from audfer_jax.process import cli
from audfer_jax.training import objective
from audfer_jax.training import train_loop
from configs import own_videos_mae
from tfds_builders import facs

# Clip -> (split, label): 12 training clips (one batch of 8 an epoch), 4
# test clips, classes alternating.
CLIPS = {
  f'actor{i % 3}/clip{i:02d}': (
    'test' if i >= 12 else 'train',
    ('anger', 'happy')[i % 2],
  )
  for i in range(16)
}


def write_folder(root):
  clips = [
    make_dummy_data.Clip(
      f'frames/{clip}', i, make_dummy_data.frame_names('{n:05d}.jpg', 3 + i % 4)
    )
    for i, clip in enumerate(CLIPS)
  ]
  rows = ''.join(
    f'{c}.mp4,{label},{split}\n' for c, (split, label) in CLIPS.items()
  )
  make_dummy_data.write_tree(
    root,
    make_dummy_data.Tree(clips, {'labels.csv': 'path,label,split\n' + rows}),
  )
  for clip in list(CLIPS)[::2]:  # without OpenFace AUs
    (root / 'openface' / 'frames' / f'{clip}.csv').unlink()
  return root


def test_fine_tunes_on_a_labelled_folder(tmp_path):
  """configs/own_videos_mae.py prepares the folder on its first run (from
  --config.manual_dir), trains a step and evaluates its test split."""
  manual = write_folder(tmp_path / 'my_videos')
  config = own_videos_mae.get_config()
  config.update(
    dict(
      manual_dir=str(manual),
      data_dir=str(tmp_path / 'tfds'),
      model='mae_dfer_tiny',
      batch_size=8,
      eval_batch_size=8,
      num_train_steps=1,
      log_every_steps=1,
    )
  )
  results = train_loop.train_and_evaluate(config, str(tmp_path / 'run'))
  builder = input_pipeline.get_builder(config)
  assert builder.info.features['label'].names == ['anger', 'happy']
  # The paper's K by class name: anger is its 'angry' row.
  knowledge, _ = objective.build_objective(config, builder, 'train')
  expected = np.asarray(facs.PAPER_KNOWLEDGE)[
    [facs.EXPRESSIONS.index('angry'), facs.EXPRESSIONS.index('happy')]
  ]
  np.testing.assert_allclose(knowledge, expected, rtol=1e-6)
  # Every one of the 4 test clips counted once, by its true class.
  confusion = np.asarray(results['final']['confusion_matrix'])
  assert confusion.shape == (2, 2)
  np.testing.assert_array_equal(confusion.sum(axis=1), [2, 2])
  with open(tmp_path / 'run' / 'results.json') as f:
    assert json.load(f)['final']['confusion_matrix'] == confusion.tolist()
  # Another folder with the same data dir: one line, not the first folder's
  # clips.
  config.manual_dir = str(tmp_path / 'other_videos')
  with pytest.raises(
    ValueError,
    match=r'^config\.manual_dir: \S+ holds '
    r'video_folder/labelled/1\.0\.0 prepared from \S+/'
    r'my_videos, not \S+/other_videos: give each folder',
  ):
    input_pipeline.get_builder(config)


def test_unlabelled_folder_feeds_the_training_pipeline(tmp_path):
  """video_folder/unlabelled through the trainer's input pipeline: every
  clip, label -1 (TFDS's "no label"), the AU mask of each clip."""
  manual = write_folder(tmp_path / 'my_videos')
  builder = tfds.builder('video_folder/unlabelled', data_dir=tmp_path)
  builder.download_and_prepare(
    download_config=tfds.download.DownloadConfig(manual_dir=manual)
  )
  assert builder.info.splits['train'].num_examples == len(CLIPS)
  config = own_videos_mae.get_config()
  # One batch of all 16 clips, 2 from each of the 8 devices' shards.
  config.model, config.batch_size = 'mae_dfer_tiny', 16
  config.augment.mixup = config.augment.cutmix = 0.0  # no classes to mix
  # MAE-DFER's pre-training augments with crops and flips only.
  config.augment.randaugment_n, config.augment.random_erasing = 0, 0.0
  mesh = inference.create_mesh(config)
  sharding = jax.NamedSharding(mesh, jax.P('data'))
  shape = inference.clip_shape(config)
  batches = list(
    input_pipeline.train_batches(
      builder, 'train', config, shape, sharding, 0, 1
    )
  )
  assert len(batches) == 1
  batch = batches[0][1]
  assert batch['video'].shape == (16, 8, 32, 32, 3)
  np.testing.assert_array_equal(batch['label'], [-1] * 16)
  # Clips 0, 2, 4, ... have no OpenFace CSV.
  assert int(np.sum(batch['au_valid'])) == 8


@pytest.mark.parametrize(
  'dataset, problem',
  [
    (
      'video_folder/unlabelled',
      "config.dataset: 'video_folder/unlabelled' has no classes (unlabelled "
      'clips): it can pre-train a model',
    ),
    (
      'video_folder/labelled',
      "config.test_split: 'video_folder/labelled' has no split 'test' to "
      'evaluate on (its splits: train)',
    ),
  ],
  ids=['no_classes', 'no_test_split'],
)
def test_fine_tuning_without_classes_or_test_clips_stops_in_one_line(
  dataset, problem, tmp_path
):
  manual = write_folder(tmp_path / 'my_videos')
  train_rows = [f'{c}.mp4,{label},train' for c, (_, label) in CLIPS.items()]
  (manual / 'labels.csv').write_text(
    '\n'.join(['path,label,split', *train_rows]) + '\n'
  )
  config = own_videos_mae.get_config()
  config.dataset, config.manual_dir = dataset, str(manual)
  config.data_dir, config.model = str(tmp_path / 'tfds'), 'mae_dfer_tiny'
  with pytest.raises(cli.UsageError) as err:
    train_loop.train_and_evaluate(config, str(tmp_path / 'run'))
  assert str(err.value).startswith(problem) and '\n' not in str(err.value)
  assert not (tmp_path / 'run' / 'checkpoints').exists()  # before any model
