"""pos_weight of the AU loss (eqs. 6-8): the three strategies and presets.

pos_weight multiplies the positive term of each AU's binary cross-entropy by
negatives / positives, so that rare AUs are not drowned by their absence:
  `global`   [18]: one ratio per AU over all training clips (eq. 6);
  `distinct` [C, 18]: one ratio per AU within each expression (eq. 7); a
    sample uses the row of its label;
  `minor`    [C, 18]: the `distinct` rows for the minor (rare) classes and
    ones (no re-weighting) for the others (eq. 8); by default surprise,
    disgust and fear are minor, as in the reference code.
`compute_pos_weight` counts the per-video `au_label` of the TRAINING split
(never test data), ignoring clips whose `au_valid` is false.

`pos_weight_preset` returns the reference code's constant tables for exact
replication of the published runs. They were computed from frame-level counts
over whole datasets (test folds included), and the upstream tables have copy
bugs that are reproduced here on purpose: the FERV39k `global` vector is the
FERV39k `distinct` surprise row, and the `minor` fear row is the FERV39k
`distinct` fear row for DFEW and the FERV39k `distinct` neutral row for
FERV39k.
"""

import warnings

import numpy as np

from audfer_jax.method import knowledge
from tfds_builders import facs

STRATEGIES = ('global', 'distinct', 'minor')
DEFAULT_MINOR_CLASSES = ('surprise', 'disgust', 'fear')

# The reference code's tables, copied exactly; rows in EXPRESSIONS order.
# fmt: off
POSW_GLOBAL_DFEW = (
  8.123028391167193, 10.40521645603657, 1.0299431287937402,
  1.904973346878674, 4.991242525542634, 2.9253478113335594,
  31.506833567505428, 2.493520755545794, 7.428694442604491,
  2.5988969808385773, 4.979137299126022, 2.8861470803811384,
  12.160409556313994, 6.5054854311666865, 5.102436217149434,
  9.670691823899372, 101.28938906752411, 8.483380533611566,
)

POSW_GLOBAL_FERV39K = (
  4.789480561907873, 4.554315802670344, 1.4431454725929194,
  1.2930490140261892, 10.91287980639957, 2.960842161727236,
  12.93426639408712, 4.830240821160679, 9.943312337902928,
  3.558962749536942, 5.529216712106698, 3.1841620626151017,
  10.882526485181709, 8.180273518441775, 3.816699282452707,
  5.920877919237679, 128.54385964912282, 5.021610601427115,
)

POSW_DISTINCT_DFEW = (
  # happy
  (
    4.648862512363996, 4.162923411588553, 1.83239825175909,
    2.5131103421760863, 1.0496164371270917, 1.191954326288771,
    15.430099793221252, 0.636697444899202, 1.0033104960263086,
    0.7217365088935785, 3.69328950409615, 2.862698681095705,
    6.9568094740508535, 4.616744014506562, 2.920370688175734,
    5.462006293978289, 57.59313882654697, 4.170958066889254,
  ),
  # sad
  (
    5.6823671940967, 4.992658194508461, 0.5149984185907146,
    2.6989371862870613, 3.1921004145555045, 1.6714365386873313,
    19.07732186190161, 2.1056834274599465, 7.311081685767773,
    1.9735191296108734, 5.039584577609662, 3.51384996900186,
    8.076543333000897, 6.52494935714581, 3.628397792864953,
    5.6926866933852995, 70.26898981989036, 5.224216933388045,
  ),
  # neutral
  (
    6.4774986002239645, 5.6010812480692, 0.8710279064472912,
    1.9167337801498792, 7.8117860530331145, 2.7351547887496284,
    21.302160526041124, 3.19245786489297, 20.999073406774425,
    2.574808023689626, 5.714757086292502, 3.906024704963953,
    8.191199242945629, 5.206488904380156, 4.249791165053314,
    7.363091976516634, 81.4053220208253, 4.963300960035722,
  ),
  # angry
  (
    4.928812812224508, 4.114906832298137, 0.9234234234234234,
    1.4543961558346765, 4.781224255883091, 2.435997871208089,
    12.75189571440743, 1.44547134935305, 13.252185430463577,
    3.1313061506565307, 3.579413266753674, 2.578767654819184,
    5.92967542503864, 5.292631578947368, 2.6113572291582763,
    4.433813627794237, 55.85311729482212, 4.549840112780662,
  ),
  # surprise
  (
    7.116157728166966, 6.34866790582404, 0.9600900658968373,
    0.761682850299846, 17.648977987421382, 5.163029358274876,
    21.278938718008924, 6.183435536376713, 35.41059094397544,
    6.815336463223788, 6.358355951919348, 4.08091030789826,
    9.571078431372548, 7.167857450288371, 5.090243902439024,
    8.104394549990404, 94.26706827309236, 6.122504128509233,
  ),
  # disgust
  (
    4.229214780600462, 4.09392575928009, 0.7474435655026047,
    2.1834797891036906, 5.054144385026738, 1.6915304606240713,
    10.307116104868914, 2.2381122631390777, 10.731865284974093,
    3.210599721059972, 4.137266023823029, 3.012848914488259,
    5.983037779491133, 6.148382004735596, 3.6374807987711213,
    5.387165021156559, 27.391849529780565, 3.2964895635673623,
  ),
  # fear
  (
    5.96072648535643, 5.154494891980657, 0.7569813845450734,
    1.5509251975236857, 7.060588375159415, 2.779909786630176,
    17.84796563052818, 2.8554517069539505, 15.333362533397574,
    3.2621352565348083, 4.923954312221004, 3.5370230679384855,
    7.644713355124371, 5.762544656620061, 3.9785987023043443,
    6.670773851153989, 57.87385538364383, 5.229860670252932,
  ),
)

POSW_DISTINCT_FERV39K = (
  # happy
  (
    4.737603191312538, 4.541120445181658, 1.9399841017488075,
    3.0183148051141764, 1.8016286336521163, 1.0785805325010287,
    12.648500823723229, 1.2691427006299645, 1.6937363437727604,
    1.317200331162874, 4.711181580035848, 2.9899824693213124,
    10.53271340275071, 5.179984484096199, 3.398861609039164,
    5.603832541529828, 123.02155688622754, 4.838200473559589,
  ),
  # sad
  (
    6.529455713698681, 6.403070594284875, 0.9404640415904496,
    2.296684603935295, 6.959404493938317, 2.2288739727344087,
    17.447373238147538, 4.3383833033160295, 11.864181771764105,
    2.7964965153512904, 7.251361198673599, 3.9084577356744514,
    13.404059172443365, 8.52803252339983, 4.647724725397893,
    6.739948542682693, 163.66993464052288, 6.3258459637262385,
  ),
  # neutral
  (
    5.821125337847061, 5.533247914651048, 1.3883817189396908,
    2.207288738270369, 7.343384759233286, 2.429757851965737,
    15.828382838283828, 4.222092172640819, 10.11337959256294,
    2.900508929686524, 6.057539122083498, 3.320439218398755,
    11.676357179096906, 6.140436112143123, 4.243682840832774,
    6.373498598199793, 133.32849462365593, 5.4467695324594905,
  ),
  # angry
  (
    5.302377957822691, 4.934069565696346, 0.9931917412861688,
    1.7729132885491468, 6.890146105679446, 2.4329960965506254,
    14.58004338394794, 3.350684488955296, 14.718704406186168,
    3.104384928949674, 5.258444915623457, 3.049844939385396,
    9.561835204156658, 6.84933153619176, 3.5544705136334813,
    5.460348394447276, 118.57380688124306, 5.117713863888022,
  ),
  # surprise
  (
    4.789480561907873, 4.554315802670344, 1.4431454725929194,
    1.2930490140261892, 10.91287980639957, 2.960842161727236,
    12.934266394087121, 4.830240821160679, 9.943312337902928,
    3.5589627495369416, 5.529216712106698, 3.1841620626151013,
    10.882526485181709, 8.180273518441775, 3.8166992824527073,
    5.920877919237679, 128.5438596491228, 5.021610601427115,
  ),
  # disgust
  (
    4.931708599982467, 4.588288734720845, 0.9527561327561328,
    2.4336242768699887, 4.1825214460784315, 1.9008788853161844,
    13.448644031603672, 2.618535750574897, 8.57043847241867,
    2.3589654487688643, 5.042957935161204, 3.0051497573102877,
    9.752105514063246, 5.854031604538087, 3.6751191874524975,
    5.442254593925545, 109.20032573289902, 4.523510204081632,
  ),
  # fear
  (
    6.047279943964511, 5.658614604015001, 0.9386300138090498,
    1.6440804169769174, 10.258299142111152, 2.639197009886665,
    17.34305682163476, 4.947487684729064, 15.796605453533667,
    3.207639227713111, 6.6501077176530226, 3.6865150221256116,
    12.636096679466908, 7.38081354990976, 4.699301359516617,
    6.53645443196005, 152.21573604060913, 5.966762839007502,
  ),
)

# fmt: on


def _ratio(au_labels, where):
  """neg / pos per AU over the clips of `where`, [18], finite."""
  labels = au_labels[where]
  positives = labels.sum(axis=0)
  negatives = len(labels) - positives
  ratio = negatives / np.maximum(positives, 1)
  # No positive: y = 0 in every clip this value applies to, so it has no effect
  # on the loss; neg / 1 keeps it finite. No negative: neg / pos = 0 would
  # silence the AU for these clips, so it is left un-weighted (1).
  ratio = np.where(negatives == 0, 1.0, ratio)
  return ratio, positives == 0, negatives == 0


def _warn(what, no_pos, no_neg):
  for flags, text, value in (
    (no_pos, 'no positive', 'number of negatives'),
    (no_neg, 'no negative', '1'),
  ):
    names = [n for n, f in zip(facs.AU_PRESENCE_NAMES, flags, strict=True) if f]
    if names:
      warnings.warn(
        f'pos_weight: {what}: {text} clip for {names}; set to {value}.',
        stacklevel=3,
      )


def _class_indices(classes, class_names):
  """Class names or indices -> indices."""
  wanted = [knowledge.canonical_class_name(n) for n in class_names]
  indices = []
  for c in classes:
    if isinstance(c, str):
      if knowledge.canonical_class_name(c) not in wanted:
        raise ValueError(f'minor class {c!r} is not in {list(class_names)}')
      c = wanted.index(knowledge.canonical_class_name(c))
    if not 0 <= c < len(class_names):
      raise ValueError(f'minor class index {c} out of [0, {len(class_names)})')
    indices.append(int(c))
  return indices


def compute_pos_weight(
  au_labels,
  au_valid,
  labels,
  strategy,
  num_classes,
  minor_classes=DEFAULT_MINOR_CLASSES,
  class_names=facs.EXPRESSIONS,
):
  """pos_weight from the per-video AU labels of the training split.

  Args:
    au_labels: [N, 18] 0/1 per-video AU labels (eq. 4).
    au_valid: [N] bool; clips with False are ignored.
    labels: [N] int expression labels.
    strategy: 'global', 'distinct' or 'minor'.
    num_classes: C.
    minor_classes: for 'minor', the classes that get their own row, as names
      (looked up in `class_names`) or indices.
    class_names: the C class names, to resolve `minor_classes` names.

  Returns:
    float32 [18] (global) or [C, 18]. Finite: an AU without positives gets the
    number of negatives (it then has no effect on the loss), an AU without
    negatives 1, a class without a valid clip a row of ones; each with a
    warning.
  """
  if strategy not in STRATEGIES:
    raise ValueError(f'pos_weight strategy {strategy!r} not in {STRATEGIES}')
  au_labels = np.asarray(au_labels, dtype=np.float64)
  au_valid = np.asarray(au_valid, dtype=bool)
  labels = np.asarray(labels)
  if au_labels.shape != (len(au_valid), facs.NUM_AUS):
    raise ValueError(
      f'au_labels has shape {au_labels.shape}, expected ({len(au_valid)}, '
      f'{facs.NUM_AUS})'
    )
  if strategy == 'global':
    if not au_valid.any():
      warnings.warn('pos_weight: no valid clip; all ones.', stacklevel=2)
      return np.ones(facs.NUM_AUS, np.float32)
    ratio, no_pos, no_neg = _ratio(au_labels, au_valid)
    _warn('global', no_pos, no_neg)
    return ratio.astype(np.float32)
  rows = range(num_classes)
  if strategy == 'minor':
    if len(class_names) != num_classes and any(
      isinstance(c, str) for c in minor_classes
    ):
      raise ValueError(
        f'minor classes given by name need the {num_classes} class_names, '
        f'got {len(class_names)}'
      )
    rows = _class_indices(minor_classes, class_names)
  table = np.ones((num_classes, facs.NUM_AUS), np.float64)
  for c in rows:
    where = au_valid & (labels == c)
    if not where.any():
      warnings.warn(
        f'pos_weight: class {c} has no valid clip; its row is all ones.',
        stacklevel=2,
      )
      continue
    table[c], no_pos, no_neg = _ratio(au_labels, where)
    _warn(f'class {c}', no_pos, no_neg)
  return table.astype(np.float32)


_UPSTREAM = {
  'dfew': (POSW_GLOBAL_DFEW, POSW_DISTINCT_DFEW, POSW_DISTINCT_FERV39K[6]),
  'ferv39k': (
    POSW_GLOBAL_FERV39K,
    POSW_DISTINCT_FERV39K,
    POSW_DISTINCT_FERV39K[2],
  ),
}


def pos_weight_preset(name, strategy):
  """The reference code's pos_weight ('dfew' or 'ferv39k'), float32.

  For exact replication only: upstream copy bugs included (module docstring).
  'minor' is ones for happy, sad, neutral, angry, the `distinct` rows for
  surprise and disgust, and the upstream (wrong) substitute row for fear.
  """
  if name not in _UPSTREAM:
    raise ValueError(f'pos_weight preset {name!r} not in {sorted(_UPSTREAM)}')
  if strategy not in STRATEGIES:
    raise ValueError(f'pos_weight strategy {strategy!r} not in {STRATEGIES}')
  global_row, distinct, minor_fear = _UPSTREAM[name]
  if strategy == 'global':
    return np.asarray(global_row, np.float32)
  table = np.asarray(distinct, np.float64)
  if strategy == 'minor':
    table = np.ones_like(table)
    for c in (4, 5):  # surprise, disgust
      table[c] = distinct[c]
    table[6] = minor_fear  # the upstream substitution, kept on purpose
  return table.astype(np.float32)
