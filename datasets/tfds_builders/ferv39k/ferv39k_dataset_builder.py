"""FERV39k: 7-class clips from 22 scenes, one official train/test split."""

from etils import epath
import tensorflow_datasets as tfds

from tfds_builders import clip_builder
from tfds_builders import facs
from tfds_builders import features
from tfds_builders import layout
from tfds_builders import split_lists
from tfds_builders.errors import DatasetLayoutError

# The class words of the split files, in the canonical (DFEW) order.
CLASS_WORDS = (
  'Happy',
  'Sad',
  'Neutral',
  'Angry',
  'Surprise',
  'Disgust',
  'Fear',
)
_FRAMES_DIR = r'2_Clips?forFaceCrop(-\d+)?'  # Zip-named parents too.


def find_frame_roots(manual_dir):
  """The folder holding `<Scene>/<Emotion>/<clip>/NN.jpg`."""
  return [
    layout.find_named_dir(manual_dir, _FRAMES_DIR, 'FERV39k 2_ClipsforFaceCrop')
  ]


def read_split_file(path):
  """{`Scene/Emotion/NNNN`: label 0..6} of `train_All.csv` / `test_All.csv`.

  Despite the extension these are space separated, without a header.
  """
  return split_lists.read_split_list(
    path, _parse_line, dataset='FERV39k', form='Scene/Emotion/NNNN Emotion'
  )


def _parse_line(clip_id, word):
  if len(clip_id.split('/')) != 3:
    raise ValueError(f'clip {clip_id!r} is not Scene/Emotion/NNNN')
  return clip_id, CLASS_WORDS.index(split_lists.check_word(word, CLASS_WORDS))


class Builder(clip_builder.ClipDatasetBuilder):
  """FERV39k with OpenFace 2.2.0 action units."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  # One config, so that every builder here is named `<dataset>/<config>`.
  BUILDER_CONFIGS = [
    tfds.core.BuilderConfig(
      name='all_scenes',
      description='The official split over all 22 scenes '
      '(4_setups/All_scenes/{train,test}_All.csv) of the face crops '
      '(2_ClipsforFaceCrop).',
    ),
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
Request FERV39k (https://github.com/wangyanckxx/FERV39k) and extract under
manual_dir `2_ClipsforFaceCrop/<Scene>/<Emotion>/<clip>/NN.jpg` and
`4_setups/All_scenes/{train,test}_All.csv`. Zip-named parents
(`2_ClipsforFaceCrop-002/2_ClipsforFaceCrop/`) and other folder levels are
found automatically. Clip ids repeat across scenes, so examples are keyed by
`Scene/Emotion/NNNN`. Labels use the DFEW order (Happy 0, Sad 1, Neutral 2,
Angry 3, Surprise 4, Disgust 5, Fear 6).
""" + clip_builder.OPENFACE_INSTRUCTIONS.format(
    name='ferv39k', example='2_ClipsforFaceCrop/Action/Happy/0267'
  )

  def _info(self):
    return self.dataset_info_from_configs(
      features=features.clip_features(facs.EXPRESSIONS),
      supervised_keys=('video', 'label'),
      homepage='https://wangyanckxx.github.io/Proj_CVPR2022_FERV39k.html',
    )

  def _split_generators(self, dl_manager):
    manual_dir = epath.Path(dl_manager.manual_dir)
    (frames_root,) = find_frame_roots(manual_dir)
    setup_dir = layout.find_dir(
      manual_dir,
      lambda p: (p / 'train_All.csv').exists(),
      'FERV39k 4_setups/All_scenes (train_All.csv)',
    )
    lists = {}
    for split in ('train', 'test'):
      lists[split] = read_split_file(setup_dir / f'{split}_All.csv')
    shared = sorted(set(lists['train']) & set(lists['test']))
    if shared:
      raise DatasetLayoutError(
        f'{setup_dir}: {len(shared)} clip(s) are in both train_All.csv and '
        f'test_All.csv, e.g. {shared[:5]}'
      )
    return self._clip_splits(manual_dir, frames_root, lists)
