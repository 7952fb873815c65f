"""A folder of face videos of your own: unlabelled, or labelled by a CSV."""

import os

from absl import logging
from etils import epath
import tensorflow_datasets as tfds

from tfds_builders import clip_builder
from tfds_builders import features
from tfds_builders import layout
from tfds_builders import prepare
from tfds_builders.errors import DatasetLayoutError
from tfds_builders.face_crop import VIDEO_SUFFIXES
from tfds_builders.video_folder import labels

# The label of an unlabelled clip: TFDS's ClassLabel reserves -1 for "no
# label", so the examples keep every feature of `features.clip_features`
# and any reader of the datasets (the trainer's input pipeline) reads them.
NO_LABEL = -1


def find_clips(manual_dir):
  """{clip id: frames folder} of every face-cropped clip of the folder.

  The clips are the folders of frames under `frames/` (what the face-crop
  stage wrote); videos it wrote nothing for (no face found, or not cropped
  yet) are counted and reported, and left out.

  Raises:
    DatasetLayoutError: no clip at all.
  """
  root = manual_dir / layout.FACE_CROP_DIRNAME
  clips = {
    str(folder.relative_to(root)): folder
    for folder in layout.frame_folders(root)
  }
  videos = layout.find_videos(manual_dir, VIDEO_SUFFIXES)
  command = layout.FACE_CROP_COMMAND.format(manual_dir)
  if not clips:
    found = f'{len(videos)} videos but ' if videos else 'no video and '
    raise DatasetLayoutError(
      f'{manual_dir}: {found}no face-crop frames under {root}; run {command}'
    )
  uncropped = [
    v for v in videos if not layout.face_crop_dir(manual_dir, v).is_dir()
  ]
  if uncropped:
    message = (
      f'video_folder: {len(uncropped)} of {len(videos)} videos have no '
      f'face-crop frames and are left out (e.g. {uncropped[0]}): the face '
      f'crop found no face in them, or has not run on them ({command} '
      'crops the rest)'
    )
    logging.warning(message)
    print(message)
  return clips


class Builder(clip_builder.ClipDatasetBuilder):
  """Face videos of a folder tree, with OpenFace AUs where they were run.

  Clips without an OpenFace CSV are kept with `au_valid=False` (the builder
  argument `allow_missing_au` defaults to True here).
  """

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [
    tfds.core.BuilderConfig(
      name='unlabelled',
      description='Every face-cropped video of the folder in split `train`, '
      'label -1 (no label): for pre-training.',
    ),
    tfds.core.BuilderConfig(
      name='labelled',
      description='The videos listed in labels.csv (path,label,split) or '
      'train.csv / test.csv (path,label), split `train` and `test`; the '
      'classes are the CSV labels in sorted order.',
    ),
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
Point manual_dir at a folder of face videos (mp4, avi, mov, mkv, flv, webm),
in any tree of folders: VoxCeleb2's `id*/<video>/<clip>.mp4`, or your own.
Crop the faces first:
`python -m tfds_builders.face_crop --manual_dir <manual_dir>`, which writes
the frames of `<rel>/<stem>.mp4` to `frames/<rel>/<stem>/00001.jpg, ...`
(frames cropped otherwise can be put there directly).
`video_folder/unlabelled` stores every cropped clip in split `train` with
label -1. `video_folder/labelled` stores the clips listed in
`<manual_dir>/labels.csv` (columns path,label,split; split is train or test)
or in `<manual_dir>/train.csv` and `<manual_dir>/test.csv` (path,label);
`path` is the video's path relative to manual_dir, `label` a class name.
OpenFace AUs are optional:
`python -m tfds_builders.run_openface --dataset video_folder --manual_dir <manual_dir>`
writes `<manual_dir>/openface/frames/<rel>/<stem>.csv`, joined frame by frame;
clips without a CSV are kept with `au_valid` False.
"""

  def __init__(self, *, allow_missing_au=True, **kwargs):
    super().__init__(allow_missing_au=allow_missing_au, **kwargs)

  @property
  def _labelled(self):
    return self.builder_config.name == 'labelled'

  def _info(self):
    # The labelled classes come from the CSV, read at preparation; TFDS
    # stores them beside the data (label.labels.txt) and reads them back.
    return self.dataset_info_from_configs(
      features=features.clip_features(None if self._labelled else ()),
      supervised_keys=('video', 'label') if self._labelled else None,
      # The folder it was prepared from (`prepare.prepared_elsewhere`).
      metadata=tfds.core.MetadataDict(),
    )

  def _split_generators(self, dl_manager):
    manual_dir = epath.Path(dl_manager.manual_dir)
    self.info.metadata[prepare.SOURCE] = os.path.realpath(manual_dir)
    if not self._labelled:
      clips = {
        c: (folder, {'label': NO_LABEL})
        for c, folder in find_clips(manual_dir).items()
      }
      return {'train': self._generate_examples(manual_dir, clips)}
    files = labels.label_files(manual_dir)
    if not files:
      raise DatasetLayoutError(
        f'{manual_dir}: no {labels.LABELS_CSV} (path,label,split) nor '
        f'{" / ".join(labels.SPLIT_CSVS.values())} (path,label): '
        'video_folder/labelled needs one (video_folder/unlabelled reads '
        'the videos without labels)'
      )
    splits, class_names = labels.read_labels(manual_dir, files)
    self.info.features['label'].names = class_names
    return {
      split: self._generate_examples(
        manual_dir,
        {
          c: (labels.frames_dir(manual_dir, c), {'label': label})
          for c, label in clips.items()
        },
      )
      for split, clips in splits.items()
    }
