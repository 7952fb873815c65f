"""Tests for the vocabularies and knowledge presets (audfer_jax.method.knowledge)."""

import json

import numpy as np
import pytest

from audfer_jax.method import knowledge
from tfds_builders import facs


def _logit(p):
  p = np.asarray(p, np.float64)
  return np.log(p / (1 - p))


def test_paper_preset_is_v1_shifted_by_a_constant_logit():
  # Independent check of the two tables: the reference found K_DFEW_v2 (the
  # paper's Fig. 4) = sigmoid(logit(K_DFEW_v1) + 0.523147108).
  v2 = 1 / (1 + np.exp(-(_logit(knowledge.K_DFEW_V1) + 0.523147108)))
  np.testing.assert_allclose(v2, np.asarray(facs.PAPER_KNOWLEDGE), atol=1e-12)


def test_upstream_table_facts():
  v1, ferv = np.asarray(knowledge.K_DFEW_V1), np.asarray(knowledge.K_FERV)
  for table in (v1, np.asarray(facs.PAPER_KNOWLEDGE), ferv):
    assert table.shape == (7, 18)
    # AU28 column is constant (mean-imputed upstream).
    assert np.all(
      table[:, knowledge.AU28_INDEX] == table[0, knowledge.AU28_INDEX]
    )
  assert v1.min() == pytest.approx(0.1117, abs=1e-4)
  assert v1.max() == pytest.approx(0.8883, abs=1e-4)
  # logit(K_v1) is symmetric: the centred-score construction.
  assert _logit(v1).max() == pytest.approx(-_logit(v1).min(), abs=1e-8)
  assert _logit(v1).max() == pytest.approx(2.0734, abs=1e-4)
  # Surprise row quirk: AU14 == AU17 in every upstream matrix.
  au14 = facs.AU_PRESENCE_NAMES.index('AU14')
  au17 = facs.AU_PRESENCE_NAMES.index('AU17')
  for table in (v1, ferv):
    assert table[4, au14] == table[4, au17]
  # FERV matrix: AU28 and AU45 both 1.74694374224107 everywhere.
  np.testing.assert_array_equal(ferv[:, 16:], 1.74694374224107)
  # Happy peaks at AU12 (index 8) in the DFEW matrix.
  assert v1[0].argmax() == facs.AU_PRESENCE_NAMES.index('AU12')


def test_vocabulary():
  assert len(facs.AU_PRESENCE_NAMES) == facs.NUM_AUS == 18
  assert len(facs.AU_INTENSITY_NAMES) == facs.NUM_INTENSITY_AUS == 17
  assert facs.AU_PRESENCE_NAMES[knowledge.AU28_INDEX] == 'AU28'
  assert facs.EXPRESSIONS[0] == 'happy' and facs.EXPRESSIONS[6] == 'fear'
  assert len(facs.MAFW_11_CLASSES) == 11


def test_load_preset_selects_rows_by_class_name():
  k = knowledge.load_knowledge('dfew_v1')
  assert k.dtype == np.float32 and k.shape == (7, 18)
  np.testing.assert_allclose(k, np.asarray(knowledge.K_DFEW_V1), rtol=1e-7)
  # MAFW's nouns and another order: anger, disgust, fear, happiness, ...
  mafw7 = knowledge.load_knowledge('paper', facs.MAFW_11_CLASSES[:7])
  paper = np.asarray(facs.PAPER_KNOWLEDGE, np.float32)
  expected = paper[[3, 5, 6, 0, 2, 1, 4]]
  np.testing.assert_array_equal(mafw7, expected)
  subset = knowledge.load_knowledge('ferv_upstream', ['Fear', 'happy'])
  np.testing.assert_array_equal(
    subset, np.asarray(knowledge.K_FERV, np.float32)[[6, 0]]
  )


def test_uniform_preset_weighs_every_au_of_any_class_by_one():
  k = knowledge.load_knowledge('uniform', facs.MAFW_11_CLASSES)
  assert k.dtype == np.float32 and k.shape == (11, 18)
  np.testing.assert_array_equal(5 * k, np.ones((11, 18)))  # 5 * K = weight


def test_load_preset_refuses_unknown_classes_and_specs():
  with pytest.raises(
    ValueError, match=r'contempt.*python -m audfer_jax\.method`'
  ):
    knowledge.load_knowledge('paper', facs.MAFW_11_CLASSES)
  with pytest.raises(ValueError, match="neither a preset.*'uniform'"):
    knowledge.load_knowledge('no_such_preset')


def test_json_round_trip_with_own_classes(tmp_path):
  path = str(tmp_path / 'k.json')
  names = list(facs.MAFW_11_CLASSES)
  matrix = np.linspace(0.1, 0.9, 11 * 18).reshape(11, 18)
  knowledge.save_knowledge(path, matrix, names, theta=0.7)
  loaded = knowledge.load_knowledge(path, names[::-1])
  np.testing.assert_allclose(loaded, matrix[::-1], rtol=1e-7)
  with open(path) as f:
    assert json.load(f)['theta'] == 0.7


def test_json_errors_name_file_and_field(tmp_path):
  path = tmp_path / 'bad.json'
  path.write_text(
    json.dumps(
      {
        'knowledge': [[0.5] * 17],
        'class_names': ['happy'],
        'au_names': list(facs.AU_PRESENCE_NAMES),
      }
    )
  )
  with pytest.raises(ValueError, match=r'bad\.json.*"knowledge".*\(1, 17\)'):
    knowledge.load_knowledge(str(path), ['happy'])
  path.write_text('{"knowledge": []}')
  with pytest.raises(ValueError, match=r"bad\.json.*'class_names'"):
    knowledge.load_knowledge(str(path), ['happy'])
