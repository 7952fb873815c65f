"""FERV39k: 7-class clips from 22 scenes, one official train/test split."""

from etils import epath
import tensorflow_datasets as tfds

from tfds_builders import clip_builder
from tfds_builders import facs
from tfds_builders import features
from tfds_builders import layout
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
  path = epath.Path(path)
  clips = {}
  for line, text in enumerate(path.read_text().splitlines(), start=1):
    fields = text.split()
    if not fields:
      continue
    if len(fields) != 2 or len(fields[0].split('/')) != 3:
      raise DatasetLayoutError(
        f'{path}: line {line} is not `Scene/Emotion/NNNN Emotion`: {text!r}'
      )
    clip_id, word = fields
    if word not in CLASS_WORDS:
      raise DatasetLayoutError(
        f'{path}: line {line}: unknown label {word!r} (expected one of '
        f'{", ".join(CLASS_WORDS)})'
      )
    if clip_id in clips:
      raise DatasetLayoutError(f'{path}: clip {clip_id} is listed twice')
    clips[clip_id] = CLASS_WORDS.index(word)
  return clips


class Ferv39k(clip_builder.ClipDatasetBuilder):
  """FERV39k with OpenFace 2.2.0 action units."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
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
    return {
      split: self._generate_examples(
        manual_dir,
        [
          clip_builder.ClipRef(clip_id, label, frames_root / clip_id)
          for clip_id, label in sorted(clips.items())
        ],
      )
      for split, clips in lists.items()
    }
