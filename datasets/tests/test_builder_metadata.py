"""TFDS reads each builder's README.md, CITATIONS.bib and TAGS.txt."""

import pathlib

import pytest
import tensorflow_datasets as tfds

import tfds_builders

PACKAGE = pathlib.Path(tfds_builders.__file__).parent
# Each dataset's paper, by a word of its title and its year.
CITED = {
  'dfew': ('Jiang, Xingxun', 'Recognizing Dynamic Facial', '2020'),
  'ferv39k': ('Wang, Yan', 'Multi-Scene Dataset', '2022'),
  'mafw': ('Liu, Yuanyuan', 'Compound Affective Database', '2022'),
  'ravdess': ('Livingstone, Steven R.', 'multimodal set of facial', '2018'),
  'affwild2': ('Kollias, Dimitrios', 'Multi-Task Learning', '2019'),
  # Synthetic: this repository, and the AU-DFER paper whose K it samples.
  'au_faces': ('audfer-jax', 'Action Unit Enhance Dynamic', '2025'),
  # The user's own videos: this repository's builder.
  'video_folder': ('audfer-jax', 'a folder of face videos', '2026'),
}
CONFIGS = {
  'dfew': ['clip_224x224', 'clip_224x224_16f'],
  'ferv39k': ['all_scenes'],
  'mafw': ['11_classes', '7_classes'],
  'ravdess': ['7_classes'],
  'affwild2': ['window_16'],
  'au_faces': ['default', 'tiny'],
  'video_folder': ['unlabelled', 'labelled'],
}


@pytest.mark.parametrize('name', sorted(CITED))
def test_info_has_the_citation_and_readme(name, tmp_path):
  info = tfds.builder(name, data_dir=tmp_path).info
  for part in CITED[name]:
    assert part in info.citation
  assert info.description == (PACKAGE / name / 'README.md').read_text().strip()


@pytest.mark.parametrize('name', sorted(CITED))
def test_tags_are_tfds_tags(name):
  cls = tfds.builder_cls(name)
  tags = cls.get_metadata().tags
  assert 'content.data-type.video' in tags
  assert set(tags) <= set(tfds.core.dataset_metadata.valid_tags())


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_configs_version_and_release_notes(name):
  cls = tfds.builder_cls(name)
  assert [c.name for c in cls.BUILDER_CONFIGS] == CONFIGS[name]
  assert str(cls.VERSION) in cls.RELEASE_NOTES
  assert cls.__name__ == 'Builder'
  assert cls.__module__ == f'tfds_builders.{name}.{name}_dataset_builder'
