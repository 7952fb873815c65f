"""Reports of an experiment directory: report.md, report.json, report.csv
and figures, from the finished runs (nothing is trained).

Numbers: `results.json`'s 'final' (last evaluation) or 'best' (best epoch by
WAR + UAR on the test split, marked † as test-selected) entry of each run; a
table puts each run's selections side by side (final, best by test, best by
validation when the run held one out) with the one the paper reports. Means are over the finished runs of a variant
(its seeds and folds); std is the sample standard deviation (n - 1), shown
from two runs on. A class absent from a run's test split (per-class accuracy
-1) is left out of that class's mean. Runs that are unfinished, failed or not
started are listed with their status and never enter a mean.
"""

import csv
import json
import os
import re

import numpy as np

from audfer_jax import workdir as workdir_lib
from audfer_jax.experiments import figures
from audfer_jax.experiments import plan as plan_lib

# The paper's Table 2 column names; other classes keep their own names.
_ABBREVIATIONS = {
  'happy': 'Hap.',
  'happiness': 'Hap.',
  'sad': 'Sad.',
  'sadness': 'Sad.',
  'neutral': 'Neu.',
  'angry': 'Ang.',
  'anger': 'Ang.',
  'surprise': 'Sur.',
  'disgust': 'Dis.',
  'fear': 'Fea.',
}
_ARM_NAMES = {plan_lib.BASELINE: 'baseline', plan_lib.AU_DFER: 'AU-DFER'}
# results.json's epoch selections: the last evaluation, the best on the test
# split (test-selected) and the best on the held-out validation set
# (config.validation_fraction), with their report column names.
_SELECTIONS = {
  'final': 'final',
  'best': 'best by test †',
  'best_val': 'best by validation',
}
_SELECTION_KEYS = ('step', 'war', 'uar', 'au_f1')
_TEST_SELECTED = (
  '† selected on the test split (the epoch with the best WAR + UAR on the '
  'test data), as AU-DFER and Former-DFER report: optimistic.'
)


def collect_run(workdir, entry, select):
  """One run's record: status, metrics (finished only), config, git."""
  run_dir = os.path.join(workdir, entry['name'])
  status = workdir_lib.run_status(run_dir)
  info = workdir_lib.read_json(workdir_lib.run_info_file(run_dir)) or {}
  record = {
    'name': entry['name'],
    'settings': entry['settings'],
    'status': status,
    'metrics': None,
    'class_names': info.get('class_names'),
    'git': info.get('git', []),
    'config': workdir_lib.read_config(run_dir),
  }
  if status == 'finished':
    results = workdir_lib.read_json(workdir_lib.results_file(run_dir))
    # An evaluation has one result, under 'final'.
    chosen = select if results.get(select) else 'final'
    record['metrics'] = results[chosen]
    # 'best' is the best epoch on the test split: selected on test data.
    record['test_selected'] = chosen == 'best'
    # The epoch the paper's table reports (config.reported_epoch); None for
    # an evaluation or a run from before the field.
    record['reported'] = results.get('reported')
    record['selections'] = {
      key: {k: results[key].get(k) for k in _SELECTION_KEYS}
      for key in _SELECTIONS
      if results.get(key)
    }
  elif status == 'failed':
    failure = workdir_lib.read_json(workdir_lib.failed_file(run_dir))
    record['error'] = failure['error']
  elif status == 'unfinished':
    record['step'] = workdir_lib.steps(workdir_lib.checkpoints_dir(run_dir))[-1]
  return record


def variant_label(settings):
  """'AU-DFER pos_weight=global', 'baseline', 'au_lambda=0.1' or 'all'."""
  parts = []
  for key, value in settings.items():
    if key == 'arm':
      parts.append(_ARM_NAMES[value])
    elif key not in plan_lib.REPLICATES:
      parts.append(f'{key}={value}')
  return ' '.join(parts) or 'all'


def _mean_std(values):
  values = np.asarray(values, np.float64)
  if not values.size:
    return {'mean': None, 'std': None, 'n': 0}
  std = float(values.std(ddof=1)) if values.size > 1 else None
  return {'mean': float(values.mean()), 'std': std, 'n': int(values.size)}


def _per_class(metric_list, num_classes):
  """Mean/std of each class's accuracy over the runs where it is present."""
  return [
    _mean_std(
      [
        m['per_class_accuracy'][c]
        for m in metric_list
        if m['per_class_accuracy'][c] >= 0
      ]
    )
    for c in range(num_classes)
  ]


def summarize(runs, num_classes):
  """Per variant (in plan order): run counts, means, summed confusion."""
  groups = {}
  for run in runs:
    variant = {
      k: v for k, v in run['settings'].items() if k not in plan_lib.REPLICATES
    }
    key = json.dumps(variant)
    groups.setdefault(key, {'settings': variant, 'runs': []})
    groups[key]['runs'].append(run)
  summary = []
  for group in groups.values():
    done = [r['metrics'] for r in group['runs'] if r['status'] == 'finished']
    confusion = (
      np.sum([np.asarray(m['confusion_matrix']) for m in done], axis=0)
      if done
      else None
    )
    summary.append(
      {
        'variant': variant_label(group['settings']),
        'settings': group['settings'],
        'runs': len(group['runs']),
        'finished': len(done),
        'not_finished': [
          f'{r["name"]} ({r["status"]})'
          for r in group['runs']
          if r['status'] != 'finished'
        ],
        'war': _mean_std([m['war'] for m in done]),
        'uar': _mean_std([m['uar'] for m in done]),
        'au_f1': _mean_std([m['au_f1'] for m in done]),
        'per_class': _per_class(done, num_classes),
        'confusion_matrix': None if confusion is None else confusion.tolist(),
      }
    )
  return summary


def _reference_of(runs):
  """The function from a run's settings to the settings of the run it is
  paired with (`paired_differences`), or None when nothing pairs.

  compare: each run's reference is the baseline of its seed and fold. A
  sweep with seeds or folds: the run of the first value of the first field
  at the same seed, fold and other fields' values.
  """
  settings = [r['settings'] for r in runs]
  if any('arm' in s for s in settings):
    return lambda s: {
      'arm': plan_lib.BASELINE,
      **{k: v for k, v in s.items() if k in plan_lib.REPLICATES},
    }
  first = settings[0] if settings else {}
  fields = [k for k in first if k not in plan_lib.REPLICATES]
  if not fields or len(fields) == len(first):  # no field, or no replicates
    return None
  return lambda s: dict(s, **{fields[0]: first[fields[0]]})


def paired_differences(runs, num_classes):
  """Each variant minus its reference on the same seed and fold
  (`_reference_of`: compare's AU-DFER minus the baseline; a sweep's values
  minus its first).

  Returns:
    Per variant that is not a reference: the reference's label, its pairs
    (both finished) with their differences, the mean/std of each
    difference, and the pairs left out.
  """
  reference_of = _reference_of(runs)
  if reference_of is None:
    return []
  by_settings = {json.dumps(r['settings'], sort_keys=True): r for r in runs}
  variants = {}
  for run in runs:
    reference = reference_of(run['settings'])
    if reference == run['settings']:
      continue
    label = variant_label(run['settings'])
    base = by_settings.get(json.dumps(reference, sort_keys=True))
    entry = variants.setdefault(
      label,
      {
        'variant': label,
        'reference': variant_label(reference),
        'pairs': [],
        'left_out': [],
      },
    )
    if (
      base is None
      or 'finished' != run['status']
      or base['status'] != ('finished')
    ):
      entry['left_out'].append(run['name'])
      continue
    a, b = run['metrics'], base['metrics']
    pair = {
      'seed': run['settings'].get('seed'),
      'fold': run['settings'].get('fold'),
      'reference': base['name'],
      'run': run['name'],
    }
    for metric in ('war', 'uar', 'au_f1'):
      pair[metric] = a[metric] - b[metric]
    pair['per_class'] = [
      (
        a['per_class_accuracy'][c] - b['per_class_accuracy'][c]
        if min(a['per_class_accuracy'][c], b['per_class_accuracy'][c]) >= 0
        else None
      )
      for c in range(num_classes)
    ]
    entry['pairs'].append(pair)
  for entry in variants.values():
    pairs = entry['pairs']
    for metric in ('war', 'uar', 'au_f1'):
      entry[metric] = _mean_std([p[metric] for p in pairs])
    entry['per_class'] = [
      _mean_std(
        [p['per_class'][c] for p in pairs if p['per_class'][c] is not None]
      )
      for c in range(num_classes)
    ]
  return list(variants.values())


def _pct(value, std=None):
  if value is None:
    return '-'
  text = f'{100 * value:.2f}'
  return text if std is None else f'{text} ± {100 * std:.2f}'


def _stat(stat):
  return _pct(stat['mean'], stat['std'])


def _table(header, rows):
  lines = ['| ' + ' | '.join(header) + ' |']
  lines.append('| ' + ' | '.join('---' for _ in header) + ' |')
  lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
  return '\n'.join(lines)


def _status_text(run):
  if run['status'] == 'unfinished':
    return f'unfinished (checkpoint at step {run["step"]})'
  if run['status'] == 'failed':
    return f'failed: {run["error"]}'.replace('|', '/').replace('\n', ' ')
  return run['status']


def _slug(text):
  return re.sub(r'[^A-Za-z0-9_.=-]+', '_', text).strip('_') or 'all'


def _sweep_lines(runs_summary, field):
  """{line label: [(value, war mean, war std, uar mean, uar std)]}."""
  lines = {}
  for s in runs_summary:
    if field not in s['settings'] or not s['finished']:
      continue
    rest = {k: v for k, v in s['settings'].items() if k != field}
    label = variant_label(rest) if rest else ''
    lines.setdefault(label, []).append(
      (
        s['settings'][field],
        s['war']['mean'],
        s['war']['std'],
        s['uar']['mean'],
        s['uar']['std'],
      )
    )
  return lines


def _selection_section(runs):
  """Per finished run: the paper's epoch and each selection side by side."""
  done = [r for r in runs if r.get('selections')]
  if not done:
    return []
  keys = [k for k in _SELECTIONS if any(k in r['selections'] for r in done)]
  rows = []
  for r in done:
    row = [r['name'], _SELECTIONS.get(r['reported'], '-')]
    for key in keys:
      m = r['selections'].get(key)
      row.append(
        f'{_pct(m["war"])} / {_pct(m["uar"])} (step {m["step"]})' if m else '-'
      )
    rows.append(row)
  return [
    '',
    '## Epoch selection (WAR / UAR, %)',
    '',
    "The paper's epoch: the selection the paper's table corresponds to "
    '(config.reported_epoch).',
    '',
    _table(['run', "paper's epoch"] + [_SELECTIONS[k] for k in keys], rows),
    '',
    _TEST_SELECTED,
  ]


def _markdown(data, abbrevs, figure_files):
  select = data['select']
  head = abbrevs + ['WAR', 'UAR', 'AU F1']
  runs = data['runs']
  counts = {}
  for r in runs:
    counts[r['status']] = counts.get(r['status'], 0) + 1
  parts = [
    f'# {data["command"]} report',
    '',
    f'Experiment `{data["workdir"]}`, made by `python -m '
    f'audfer_jax.experiments {" ".join(data["argv"])}`.',
    f'Runs: {", ".join(f"{n} {s}" for s, n in sorted(counts.items()))}. '
    f'Numbers: the {_SELECTIONS.get(select, select)} evaluation of each '
    'run, in %; mean ± sample std over the finished runs of each row (seeds '
    'and folds); unfinished, failed and not-started runs count in no mean.'
    + (
      ' ' + _TEST_SELECTED if any(r.get('test_selected') for r in runs) else ''
    ),
    '',
    '## Mean over seeds and folds',
    '',
    _table(
      ['variant', 'runs'] + head,
      [
        [s['variant'], f'{s["finished"]} of {s["runs"]} finished']
        + [_stat(c) for c in s['per_class']]
        + [_stat(s['war']), _stat(s['uar']), _stat(s['au_f1'])]
        for s in data['summary']
      ],
    ),
  ]
  missing = [n for s in data['summary'] for n in s['not_finished']]
  if missing:
    parts += ['', 'Not in the means: ' + ', '.join(missing) + '.']
  for entry in data['paired']:
    parts += [
      '',
      f'## {entry["variant"]} minus {entry["reference"]}, same seed and fold '
      '(points)',
      '',
      _table(
        ['pair'] + ['Δ ' + a for a in head],
        [
          [p['run']]
          + [_pct(d) for d in p['per_class']]
          + [_pct(p['war']), _pct(p['uar']), _pct(p['au_f1'])]
          for p in entry['pairs']
        ]
        + [
          [f'mean ± std ({len(entry["pairs"])} pairs)']
          + [_stat(c) for c in entry['per_class']]
          + [_stat(entry['war']), _stat(entry['uar']), _stat(entry['au_f1'])]
        ],
      ),
    ]
    if entry['left_out']:
      parts += ['', 'Not paired (unfinished): ' + ', '.join(entry['left_out'])]
  parts += [
    '',
    '## Runs',
    '',
    _table(
      ['run', 'status', 'step'] + head,
      [
        [r['name'] + (' †' if r.get('test_selected') else ''), _status_text(r)]
        + (
          [r['metrics']['step'] if r['metrics']['step'] is not None else '-']
          + [
            _pct(a) if a >= 0 else '-'
            for a in r['metrics']['per_class_accuracy']
          ]
          + [_pct(r['metrics'][k]) for k in ('war', 'uar', 'au_f1')]
          if r['metrics']
          else ['-'] * (len(head) + 1)
        )
        for r in runs
      ],
    ),
  ]
  parts += _selection_section(runs)
  if figure_files:
    parts += ['', '## Figures', '']
    parts += [f'![{name}]({name})' for name in figure_files]
  return '\n'.join(parts) + '\n'


def _write_csv(path, runs, class_names):
  keys = []
  for r in runs:
    keys += [k for k in r['settings'] if k not in keys]
  metrics = ['war', 'uar', 'au_f1']
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(
      ['run', 'status', *keys, 'step', *metrics]
      + [f'accuracy_{n}' for n in class_names]
    )
    for r in runs:
      m = r['metrics']
      values = (
        [m['step'], *(m[k] for k in metrics), *m['per_class_accuracy']]
        if m
        else [''] * (1 + len(metrics) + len(class_names))
      )
      writer.writerow(
        [r['name'], r['status'], *(r['settings'].get(k, '') for k in keys)]
        + values
      )


def write_report(workdir, select='final'):
  """Writes the report of the experiment in `workdir`; returns its data.

  Raises:
    plan_lib.PlanError: `workdir` holds no experiment.
  """
  plan = plan_lib.read_plan(workdir)
  runs = [collect_run(workdir, e, select) for e in plan['runs']]
  done = [r for r in runs if r['metrics']]
  class_names = next((r['class_names'] for r in done), None) or next(
    (r['class_names'] for r in runs if r['class_names']), []
  )
  num_classes = len(class_names)
  data = {
    'workdir': os.path.abspath(workdir),
    'command': plan['command'],
    'argv': plan['argv'],
    'select': select,
    'class_names': class_names,
    'runs': runs,
    'summary': summarize(runs, num_classes),
    'paired': paired_differences(runs, num_classes),
  }
  figure_files = []
  for s in data['summary']:
    if s['confusion_matrix'] is None:
      continue
    name = (
      'confusion.png'
      if len(data['summary']) == 1
      else f'confusion_{_slug(s["variant"])}.png'
    )
    title = f'{s["variant"]} ({s["finished"]} runs)'
    figures.save_confusion(
      os.path.join(workdir, name), s['confusion_matrix'], class_names, title
    )
    figure_files.append(name)
  # The sweep plot's x axis: the first --field of the command.
  fields = [
    k
    for e in plan['runs']
    for k in e['settings']
    if k != 'arm' and k not in plan_lib.REPLICATES
  ]
  if fields:
    lines = _sweep_lines(data['summary'], fields[0])
    if any(len(points) > 1 for points in lines.values()):
      figures.save_sweep(os.path.join(workdir, 'sweep.png'), fields[0], lines)
      figure_files.append('sweep.png')
  data['figures'] = figure_files
  abbrevs = [_ABBREVIATIONS.get(n, n.capitalize()) for n in class_names]
  with open(workdir_lib.report_file(workdir, 'md'), 'w') as f:
    f.write(_markdown(data, abbrevs, figure_files))
  with open(workdir_lib.report_file(workdir, 'json'), 'w') as f:
    json.dump(data, f, indent=1)
  _write_csv(workdir_lib.report_file(workdir, 'csv'), runs, class_names)
  return data
