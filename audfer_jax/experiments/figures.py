"""The report's figures: confusion matrices (paper Figure 6), the sweep plot
(Figure 5) and the t-SNE of pooled features (Figure 8).

matplotlib's object API on Agg canvases, as `audfer_jax.heatmap`.
"""

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
import numpy as np
from PIL import Image

from audfer_jax import heatmap


def save_confusion(path, confusion, class_names, title):
  """Counts and row-normalised percentages side by side, as one PNG."""
  confusion = np.asarray(confusion, np.float64)
  rows = confusion.sum(axis=1, keepdims=True)
  percent = 100 * confusion / np.where(rows > 0, rows, 1)
  panels = [
    (confusion, f'{title}: counts', '{:.0f}', None),
    (percent, f'{title}: % of each true class', '{:.1f}', 100.0),
  ]
  # Same matrix shape, same figure size: the two images stack side by side.
  image = np.concatenate(
    [
      heatmap.figure_to_rgb(
        heatmap.draw_heatmap(
          matrix,
          class_names,
          class_names,
          title=name,
          xlabel='predicted',
          ylabel='true',
          value_format=fmt,
          vmin=0.0,
          vmax=vmax,
        )
      )
      for matrix, name, fmt, vmax in panels
    ],
    axis=1,
  )
  Image.fromarray(image).save(path)


def _positions(values):
  """x positions of the values: numbers when all parse, else 0, 1, ..."""
  try:
    return [float(v) for v in values], False
  except ValueError:
    return list(range(len(values))), True


def save_sweep(path, field, lines):
  """WAR and UAR (%) against the values of `field`.

  Args:
    lines: {label: [(value text, war mean, war std, uar mean, uar std)]};
      std is None (no error bar) below two runs.
  """
  fig = Figure(figsize=(5.5, 3.8), dpi=100)
  FigureCanvasAgg(fig)
  ax = fig.add_subplot()
  categorical = False
  for label, points in lines.items():
    x, categorical = _positions([p[0] for p in points])
    for offset, metric, marker in ((1, 'WAR', 'o'), (3, 'UAR', 's')):
      mean = [100 * p[offset] for p in points]
      std = [100 * (p[offset + 1] or 0.0) for p in points]
      name = metric if len(lines) == 1 else f'{metric} {label}'
      ax.errorbar(x, mean, yerr=std, marker=marker, capsize=3, label=name)
    if categorical:
      ax.set_xticks(x, labels=[p[0] for p in points])
  ax.set_xlabel(field)
  ax.set_ylabel('%')
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path)


def tsne_embedding(features):
  """scikit-learn's t-SNE of features [N, D] -> [N, 2] (seeded)."""
  from sklearn.manifold import TSNE  # Only the features command needs it.

  # Perplexity must stay below the number of points (small test splits).
  perplexity = min(30.0, max(1.0, (len(features) - 1) / 3))
  return TSNE(perplexity=perplexity, init='pca', random_state=0).fit_transform(
    np.asarray(features, np.float64)
  )


def save_tsne(path, embedding, labels, class_names, title):
  """A 2-D embedding [N, 2] coloured by expression."""
  fig = Figure(figsize=(5.5, 5), dpi=100)
  FigureCanvasAgg(fig)
  ax = fig.add_subplot()
  for c, name in enumerate(class_names):
    keep = labels == c
    if keep.any():
      ax.scatter(*embedding[keep].T, s=12, label=name, color=f'C{c % 10}')
  ax.set_xticks([])
  ax.set_yticks([])
  ax.set_title(title)
  ax.legend(fontsize=8, markerscale=1.5)
  fig.tight_layout()
  fig.savefig(path)
