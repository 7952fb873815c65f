"""The AU-expression knowledge matrix K: presets, JSON load and save.

The vocabularies and the paper's K (`PAPER_KNOWLEDGE`) live in
`tfds_builders.facs` (the datasets need them without JAX). K has one row per
expression and one column per presence AU (`facs.AU_PRESENCE_NAMES` order);
the AU loss weighs each sample's AU targets by `5 * K[label]`.

Presets (rows in `facs.EXPRESSIONS` order):
  `paper`: the paper's Figure 4 (the upstream `K_DFEW_v2`); the default.
  `dfew_v1`: the upstream `K_DFEW_v1`, used by most published runs.
  `ferv_upstream`: the upstream FERV39k matrix `K_FERV`, kept only to replicate
    published runs: it gives the characteristic AUs of each expression the
    smallest weights and is 1.747 (> 1) for AU28 and AU45, very likely a bug.
  `uniform`: 0.2 everywhere, so every AU of every class weighs 1 in the BCE:
    no knowledge. It has a row for any class, e.g. MAFW's 11 (the presets
    above cover the 7 basic expressions only).
Any other K comes from a JSON file written by `python -m audfer_jax.method`.
"""

import json
import os

import numpy as np

from tfds_builders import facs

__all__ = [
  'AU28_INDEX',
  'CLASS_ALIASES',
  'KNOWLEDGE_PRESETS',
  'K_DFEW_V1',
  'K_FERV',
  'UNIFORM',
  'canonical_class_name',
  'load_knowledge',
  'save_knowledge',
]

# AU28 (lip suck) has a presence but no intensity model in OpenFace.
AU28_INDEX = facs.AU_PRESENCE_NAMES.index('AU28')

# Other spellings of the canonical expressions (MAFW names its classes by
# nouns), so a preset can serve datasets that use them.
CLASS_ALIASES = {'anger': 'angry', 'happiness': 'happy', 'sadness': 'sad'}

# Upstream constants, copied exactly; rows re-ordered as facs.EXPRESSIONS.
# fmt: off
K_DFEW_V1 = (
  # happy
  (
    0.26197021302251783, 0.2637489312360733, 0.2964310301204501,
    0.13190483696240127, 0.6939537051210115, 0.8330800031639156,
    0.17347610820526463, 0.8420321208563623, 0.8882934142237333,
    0.7356394920285989, 0.15360866990050534, 0.24664740708336055,
    0.17509971698083543, 0.1276861973423668, 0.8057327549388998,
    0.41178926421868306, 0.2908397350173472, 0.19836039970638378,
  ),
  # sad
  (
    0.2470265618083506, 0.1433979246927842, 0.6881822893577378,
    0.11893982182697348, 0.31161634476423544, 0.5253221085983302,
    0.12597712051107948, 0.4422623779963743, 0.27645211415344356,
    0.42395131504088984, 0.17558170449960314, 0.27142133890425624,
    0.1741388696479932, 0.1227455638528141, 0.4485394778155102,
    0.41664204112281555, 0.2908397350173472, 0.2121307850723057,
  ),
  # neutral
  (
    0.19974525492944142, 0.17419319637385966, 0.4053456334801515,
    0.13706230525786608, 0.16464150662864904, 0.3564013123982043,
    0.1117065857762667, 0.30225692349830036, 0.17199394819786643,
    0.28648655803768563, 0.14721999753281687, 0.22595757296022984,
    0.14108230584951664, 0.11916179838996314, 0.31830472814177574,
    0.36213049142283893, 0.2908397350173472, 0.16214811486455724,
  ),
  # angry
  (
    0.16978330014266482, 0.1474484099458089, 0.6385375278419455,
    0.15955087911488458, 0.2257386547042889, 0.4972455283651611,
    0.15269462267081732, 0.470889570126452, 0.1713443932394683,
    0.28682403662377504, 0.17023111167232707, 0.28941226670462944,
    0.14671370568908396, 0.12489530852760639, 0.6019091910383833,
    0.5023565940498623, 0.2908397350173472, 0.1480589426871144,
  ),
  # surprise
  (
    0.3340537870187493, 0.31316038897162674, 0.4508609549567622,
    0.2215642997098194, 0.18256790904316805, 0.36794740171201545,
    0.14342865607335295, 0.3325723523253354, 0.20291790550542987,
    0.24479399356303455, 0.15335881131831128, 0.24479399356303455,
    0.14621845929676547, 0.12047847974103684, 0.4921072671708563,
    0.5073560806954985, 0.2908397350173472, 0.15234747176484023,
  ),
  # disgust
  (
    0.2556613250379876, 0.15655681634966592, 0.7784678175136164,
    0.13563151267233145, 0.353602732625092, 0.8594560438530944,
    0.3484770561236273, 0.7265667054811852, 0.2573762546624107,
    0.4833627557878272, 0.26077234063862126, 0.3163550480772833,
    0.1807057096038953, 0.1488894096862477, 0.6161944289089377,
    0.44359769238463886, 0.2908397350173472, 0.21474224698158992,
  ),
  # fear
  (
    0.3416233199942143, 0.22096625856984287, 0.591078697660434,
    0.2210340665261555, 0.19066749128518232, 0.35671400783212986,
    0.1239196009045801, 0.3647782154323708, 0.2014525981038694,
    0.28661445976904537, 0.21138892966648018, 0.30233592318202696,
    0.18447197078258057, 0.12964812274717674, 0.5106650931015151,
    0.5397724065827655, 0.2908397350173472, 0.1432476989807878,
  ),
)

K_FERV = (
  # happy
  (
    0.4102062600389829, 0.41095770811632504, 0.41803458042778374,
    0.2322705966248465, 0.09066378229764688, 0.015180147816263303,
    0.31660281950777386, 0.012679725458816142, 0.0038333838772364385,
    0.06089417471969754, 0.2793389235402054, 0.40204037116646585,
    0.3193842331584253, 0.2224482236651945, 0.024549694471830814,
    0.3658364744360839, 1.74694374224107, 1.74694374224107,
  ),
  # sad
  (
    0.40229523588843863, 0.257963948348277, 0.09524529767453874,
    0.20150506655830994, 0.41733760982735046, 0.25443398251236693,
    0.21844718328633875, 0.33906684205510706, 0.41518877136319954,
    0.3555757319693506, 0.3202021146171915, 0.41374786323570883,
    0.3177430994906438, 0.21070730310497668, 0.33315401347369766,
    0.3618163084198552, 1.74694374224107, 1.74694374224107,
  ),
  # neutral
  (
    0.3565903724341121, 0.3178470861967956, 0.37101264160590863,
    0.24400201093767518, 0.30076189712205165, 0.4030082784253525,
    0.1836916286924921, 0.41804519923131944, 0.31402834992942114,
    0.41717757201890737, 0.2661327833834797, 0.3859463577046634,
    0.2529205867172519, 0.20204530297384235, 0.41630794601879584,
    0.3999640767999124, 1.74694374224107, 1.74694374224107,
  ),
  # angry
  (
    0.3101259978601843, 0.2666147102288715, 0.13845042098707322,
    0.29109966182655833, 0.3857435256997118, 0.28414777060394286,
    0.27748466368999686, 0.3112494485722471, 0.31289378029762777,
    0.41722449809305917, 0.31092253027646627, 0.4175421849893703,
    0.26506202105256416, 0.21584591344096649, 0.1741026302426755,
    0.27878341068306967, 1.74694374224107, 1.74694374224107,
  ),
  # surprise
  (
    0.4122681573130717, 0.4171378321149753, 0.33093810219201664,
    0.3817419876877954, 0.33165367004699836, 0.3967823898720178,
    0.258170231067692, 0.41274049513641964, 0.36069688657829474,
    0.400841402022718, 0.2790962209229562, 0.400841402022718,
    0.26396301036737124, 0.20524107004816294, 0.28951133665255213,
    0.27351215699444636, 1.74694374224107, 1.74694374224107,
  ),
  # disgust
  (
    0.40721574689736123, 0.28523795317106965, 0.03657068162975569,
    0.24077926879096198, 0.4043433665405009, 0.008576630671049652,
    0.406733027316152, 0.06688077218181326, 0.4080793452037397,
    0.29855891816981045, 0.4096776471203334, 0.4166519181063416,
    0.3286751116548074, 0.2696385610908488, 0.15988227254676246,
    0.3378189743033448, 1.74694374224107, 1.74694374224107,
  ),
  # fear
  (
    0.4095512663816923, 0.3812487634270026, 0.18511101108970013,
    0.38121540370466694, 0.34398230195429214, 0.40285188777671566,
    0.21351919840164818, 0.39858175147539276, 0.3589580490082006,
    0.4171955067776652, 0.3709072830104787, 0.41803804256344024,
    0.3346435315500807, 0.22704054056925538, 0.2700121671610338,
    0.23902276499259092, 1.74694374224107, 1.74694374224107,
  ),
)

# fmt: on

KNOWLEDGE_PRESETS = {
  'paper': facs.PAPER_KNOWLEDGE,
  'dfew_v1': K_DFEW_V1,
  'ferv_upstream': K_FERV,
}
# A preset of the same value for every class and AU: weight 5 * 0.2 = 1.
UNIFORM = 'uniform'
UNIFORM_VALUE = 0.2


def canonical_class_name(name):
  """Lower-case class name with `CLASS_ALIASES` applied."""
  name = name.strip().lower()
  return CLASS_ALIASES.get(name, name)


def _read_json(path):
  """Reads a knowledge JSON file; returns (matrix [C, 18], class names)."""
  try:
    with open(path) as f:
      data = json.load(f)
  except (OSError, json.JSONDecodeError) as e:
    raise ValueError(f'{path}: cannot read a knowledge JSON file: {e}') from e
  for field in ('knowledge', 'class_names', 'au_names'):
    if field not in data:
      raise ValueError(f'{path}: field {field!r} is missing')
  if tuple(data['au_names']) != facs.AU_PRESENCE_NAMES:
    raise ValueError(
      f'{path}: field "au_names" is {data["au_names"]}, expected '
      f'{list(facs.AU_PRESENCE_NAMES)}'
    )
  matrix = np.asarray(data['knowledge'], dtype=np.float64)
  names = list(data['class_names'])
  if matrix.shape != (len(names), facs.NUM_AUS):
    raise ValueError(
      f'{path}: field "knowledge" has shape {matrix.shape}, expected '
      f'({len(names)}, {facs.NUM_AUS}) for {len(names)} class names'
    )
  if not np.all(np.isfinite(matrix)):
    raise ValueError(f'{path}: field "knowledge" has non-finite values')
  return matrix, names


def load_knowledge(spec, class_names=facs.EXPRESSIONS):
  """Returns K as float32 [len(class_names), 18], rows in `class_names` order.

  Args:
    spec: a preset name (`paper`, `dfew_v1`, `ferv_upstream`, `uniform`) or
      the path of a JSON file written by `python -m audfer_jax.method` (or
      `save_knowledge`).
    class_names: the dataset's classes in label-index order. Rows are picked
      by name (case-insensitive; 'anger', 'happiness' and 'sadness' also
      match the presets' 'angry', 'happy', 'sad'), so any order or subset
      works.

  Raises:
    ValueError: unknown spec, unreadable file, or a class the source lacks.
  """
  if spec == UNIFORM:
    return np.full((len(class_names), facs.NUM_AUS), UNIFORM_VALUE, np.float32)
  if spec in KNOWLEDGE_PRESETS:
    matrix, source_names = np.asarray(KNOWLEDGE_PRESETS[spec]), facs.EXPRESSIONS
    source = f'knowledge preset {spec!r}'
  elif os.path.isfile(spec):
    matrix, source_names = _read_json(spec)
    source = f'knowledge file {spec}'
  else:
    raise ValueError(
      f'Knowledge {spec!r} is neither a preset '
      f'{sorted([*KNOWLEDGE_PRESETS, UNIFORM])} '
      'nor an existing JSON file.'
    )
  rows = {canonical_class_name(n): i for i, n in enumerate(source_names)}
  missing = [n for n in class_names if canonical_class_name(n) not in rows]
  if missing:
    raise ValueError(
      f'The {source} has no row for the classes {missing} (it covers '
      f'{list(source_names)}). Extract K from data for these classes with '
      '`python -m audfer_jax.method` and pass the JSON file it writes.'
    )
  index = [rows[canonical_class_name(n)] for n in class_names]
  return matrix[index].astype(np.float32)


def save_knowledge(path, matrix, class_names, **metadata):
  """Writes K [C, 18] as JSON with its class and AU names plus `metadata`."""
  matrix = np.asarray(matrix, dtype=np.float64)
  if matrix.shape != (len(class_names), facs.NUM_AUS):
    raise ValueError(
      f'K has shape {matrix.shape}, expected ({len(class_names)}, {facs.NUM_AUS})'
    )
  data = {
    'knowledge': matrix.tolist(),
    'class_names': list(class_names),
    'au_names': list(facs.AU_PRESENCE_NAMES),
    **metadata,
  }
  with open(path, 'w') as f:
    json.dump(data, f, indent=2)
