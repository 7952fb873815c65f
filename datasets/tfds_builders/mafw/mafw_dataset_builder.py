"""MAFW: 11-class (or basic 7-class) clips, five folds as five test sets."""

from etils import epath
import tensorflow_datasets as tfds

from tfds_builders import clip_builder
from tfds_builders import facs
from tfds_builders import features
from tfds_builders import folds
from tfds_builders import layout
from tfds_builders import split_lists

# The seven basic MAFW classes mapped onto the canonical (DFEW) order.
BASIC_7 = {
  'happiness': 0,
  'sadness': 1,
  'neutral': 2,
  'anger': 3,
  'surprise': 4,
  'disgust': 5,
  'fear': 6,
}
_CLASSES = {
  '11_classes': (
    facs.MAFW_11_CLASSES,
    {w: i for i, w in enumerate(facs.MAFW_11_CLASSES)},
  ),
  '7_classes': (facs.EXPRESSIONS, BASIC_7),
}


def find_frame_roots(manual_dir):
  """The folder holding `<id>/*.png` (`data/frames`)."""
  return [layout.find_named_dir(manual_dir, 'frames', 'MAFW data/frames')]


def read_split_file(path):
  """{clip id: MAFW word} of one `set_k/{train,test}.txt` (`00025.mp4 anger`)."""
  return split_lists.read_split_list(
    path, _parse_line, dataset='MAFW', form='<clip>.mp4 <label>'
  )


def _parse_line(clip, word):
  return clip.removesuffix('.mp4'), split_lists.check_word(
    word, facs.MAFW_11_CLASSES
  )


class Builder(clip_builder.ClipDatasetBuilder):
  """MAFW with OpenFace 2.2.0 action units."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [
    tfds.core.BuilderConfig(
      name='11_classes',
      description="All 11 single-expression classes in MAFW's own order "
      '(anger, disgust, fear, happiness, neutral, sadness, surprise, '
      'contempt, anxiety, helplessness, disappointment).',
    ),
    tfds.core.BuilderConfig(
      name='7_classes',
      description='The seven basic classes only, relabelled to the DFEW '
      'order: happiness->0 happy, sadness->1 sad, neutral->2, anger->3 '
      'angry, surprise->4, disgust->5, fear->6. Clips of contempt, anxiety, '
      'helplessness and disappointment are dropped; folds are not re-split.',
    ),
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
Request MAFW (https://mafw-database.github.io/MAFW/) and extract under
manual_dir `data/frames/<id>/*.png` and
`Train & Test Set/single/no_caption/set_{1..5}/{train,test}.txt` (the split
folder may be renamed, e.g. `split` or `Train_Test_Set`). Frames are PNG and
are stored re-encoded as JPEG (quality 95). Splits `set_1`..`set_5` are the
five official test sets; fold k trains on the other four
(`tfds_builders.fold_splits(k)`).
""" + clip_builder.OPENFACE_INSTRUCTIONS.format(
    name='mafw', example='data/frames/00025'
  )

  def _info(self):
    class_names, _ = _CLASSES[self.builder_config.name]
    return self.dataset_info_from_configs(
      features=features.clip_features(class_names),
      supervised_keys=('video', 'label'),
      homepage='https://mafw-database.github.io/MAFW/',
    )

  def _split_generators(self, dl_manager):
    manual_dir = epath.Path(dl_manager.manual_dir)
    (frames_root,) = find_frame_roots(manual_dir)
    split_dir = layout.find_dir(
      manual_dir,
      lambda p: p.name == 'no_caption' and p.parent.name == 'single',
      "MAFW 'Train & Test Set/single/no_caption'",
    )
    splits = folds.read_folds(
      lambda kind, k: split_dir / f'set_{k}' / f'{kind}.txt', read_split_file
    )
    _, word_to_label = _CLASSES[self.builder_config.name]
    splits = {
      split: {
        clip_id: word_to_label[word]
        for clip_id, word in clips.items()
        if word in word_to_label
      }
      for split, clips in splits.items()
    }
    return self._clip_splits(manual_dir, frames_root, splits)
