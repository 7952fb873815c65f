"""Tests for the pos_weight strategies and presets (audfer_jax.method.pos_weight)."""

import numpy as np
import pytest

from audfer_jax.method import pos_weight as pw

# A hand-made label table: 3 classes, 8 clips, AUs 0-2 (others all zero).
#          label  valid  AU0 AU1 AU2
_TABLE = [
  (0, True, 1, 0, 1),
  (0, True, 0, 0, 1),
  (0, True, 0, 1, 1),
  (1, True, 1, 1, 0),
  (1, True, 1, 0, 0),
  (1, False, 0, 0, 0),  # invalid: must not count
  (2, False, 1, 1, 1),  # invalid: class 2 has no valid clip
  (0, True, 0, 0, 1),
]


def _arrays():
  labels = np.array([r[0] for r in _TABLE])
  valid = np.array([r[1] for r in _TABLE])
  au_labels = np.zeros((len(_TABLE), 18), np.uint8)
  au_labels[:, :3] = [r[2:] for r in _TABLE]
  return au_labels, valid, labels


def test_global():
  with pytest.warns(UserWarning, match='no positive'):
    got = pw.compute_pos_weight(*_arrays(), 'global', num_classes=3)
  # 6 valid clips. AU0: 3 pos 3 neg; AU1: 2 pos 4 neg; AU2: 4 pos 2 neg.
  np.testing.assert_allclose(got[:3], [1.0, 2.0, 0.5])
  # No positive in 6 valid clips: the number of negatives.
  np.testing.assert_array_equal(got[3:], 6.0)
  assert got.shape == (18,) and got.dtype == np.float32


def test_distinct():
  with pytest.warns(UserWarning) as record:
    got = pw.compute_pos_weight(*_arrays(), 'distinct', num_classes=3)
  messages = ' | '.join(str(w.message) for w in record)
  assert "class 0: no negative clip for ['AU04']" in messages
  assert "class 1: no negative clip for ['AU01']" in messages
  assert 'class 2 has no valid clip' in messages
  # Class 0 (4 clips): AU0 1/4 -> 3, AU1 1/4 -> 3, AU2 4/4 -> no negative: 1.
  np.testing.assert_allclose(got[0, :3], [3.0, 3.0, 1.0])
  np.testing.assert_array_equal(got[0, 3:], 4.0)
  # Class 1 (2 valid clips): AU0 2/2 -> 1, AU1 1/2 -> 1, AU2 0/2 -> 2.
  np.testing.assert_allclose(got[1, :3], [1.0, 1.0, 2.0])
  np.testing.assert_array_equal(got[2], 1.0)
  assert np.all(np.isfinite(got))


@pytest.mark.filterwarnings('ignore::UserWarning')
def test_minor_by_name_or_index():
  names = ('happy', 'sad', 'fear')
  by_name = pw.compute_pos_weight(
    *_arrays(), 'minor', 3, minor_classes=['sad'], class_names=names
  )
  by_index = pw.compute_pos_weight(*_arrays(), 'minor', 3, minor_classes=[1])
  distinct = pw.compute_pos_weight(*_arrays(), 'distinct', num_classes=3)
  np.testing.assert_array_equal(by_name, by_index)
  np.testing.assert_array_equal(by_name[1], distinct[1])
  np.testing.assert_array_equal(by_name[[0, 2]], 1.0)
  with pytest.raises(ValueError, match="'anger' is not in"):
    pw.compute_pos_weight(
      *_arrays(), 'minor', 3, minor_classes=['anger'], class_names=names
    )


def test_default_minor_classes_are_surprise_disgust_fear():
  rng = np.random.default_rng(0)
  labels = np.repeat(np.arange(7), 20)
  au_labels = rng.integers(0, 2, (140, 18))
  au_labels[::10] = 1  # every class and AU has positives ...
  au_labels[1::10] = 0  # ... and negatives
  valid = np.ones(140, bool)
  minor = pw.compute_pos_weight(au_labels, valid, labels, 'minor', 7)
  distinct = pw.compute_pos_weight(au_labels, valid, labels, 'distinct', 7)
  np.testing.assert_array_equal(minor[:4], 1.0)
  np.testing.assert_array_equal(minor[4:], distinct[4:])
  # distinct rows are neg / pos of that class's clips.
  pos = au_labels[labels == 5].sum(0)
  np.testing.assert_allclose(distinct[5], (20 - pos) / pos, rtol=1e-6)


def test_presets_reproduce_the_upstream_tables():
  np.testing.assert_array_equal(
    pw.pos_weight_preset('dfew', 'global'),
    np.asarray(pw.POSW_GLOBAL_DFEW, np.float32),
  )
  dfew_minor = pw.pos_weight_preset('dfew', 'minor')
  ferv_minor = pw.pos_weight_preset('ferv39k', 'minor')
  ferv_distinct = np.asarray(pw.POSW_DISTINCT_FERV39K, np.float32)
  np.testing.assert_array_equal(dfew_minor[:4], 1.0)
  np.testing.assert_array_equal(
    dfew_minor[4:6], np.asarray(pw.POSW_DISTINCT_DFEW, np.float32)[4:6]
  )
  # The upstream substitutions, kept for replication.
  np.testing.assert_array_equal(dfew_minor[6], ferv_distinct[6])
  np.testing.assert_array_equal(ferv_minor[6], ferv_distinct[2])
  # FERV39k global = FERV39k distinct surprise row (upstream copy bug).
  np.testing.assert_allclose(
    pw.pos_weight_preset('ferv39k', 'global'), ferv_distinct[4], rtol=1e-6
  )
  # AU28 (index 16) is the rarest AU: 101.289 in the DFEW global vector.
  assert pw.pos_weight_preset('dfew', 'global')[16] == pytest.approx(
    101.28938906752411
  )
  with pytest.raises(ValueError, match='strategy'):
    pw.pos_weight_preset('dfew', 'major')


def test_presets_equal_the_published_numbers():
  # Typed from the AU-DFER code's constant tables (Cross-Innovation-Lab/
  # AU-DFER, the `posw_option` tables of its solvers), not from this module.
  dfew_global = pw.pos_weight_preset('dfew', 'global')
  for au, value in [
    (0, 8.123028391167193),  # AU01
    (2, 1.0299431287937402),  # AU04: the most frequent AU
    (6, 31.506833567505428),  # AU09
    (17, 8.483380533611566),  # AU45
  ]:
    assert dfew_global[au] == pytest.approx(value, rel=1e-7)
  # The distinct tables: (row, AU index, value).
  distinct = pw.pos_weight_preset('dfew', 'distinct')
  for row, au, value in [
    (0, 8, 1.0033104960263086),  # happy, AU12: about as often on as off
    (4, 8, 35.41059094397544),  # surprise, AU12: rarely on
    (5, 16, 27.391849529780565),  # disgust, AU28
  ]:
    assert distinct[row, au] == pytest.approx(value, rel=1e-7)
  ferv = pw.pos_weight_preset('ferv39k', 'global')
  assert ferv[16] == pytest.approx(128.54385964912282, rel=1e-7)
