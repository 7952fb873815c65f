"""Annotated heatmaps: the knowledge matrix (paper Fig. 4) and confusion images.

Draws with matplotlib's object API on an Agg canvas (no pyplot): no global
backend state, safe in a training process and in threads.
"""

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
import numpy as np


def draw_heatmap(
  matrix,
  row_labels,
  col_labels,
  *,
  title='',
  xlabel='',
  ylabel='',
  value_format='{:.2f}',
  vmin=None,
  vmax=None,
  cmap='Blues',
):
  """Draws `matrix` [R, C] as coloured cells with each value printed inside.

  Returns:
    A matplotlib `Figure` on an Agg canvas (see `figure_to_rgb`, `.savefig`).
  """
  matrix = np.asarray(matrix, dtype=np.float64)
  rows, cols = matrix.shape
  if len(row_labels) != rows or len(col_labels) != cols:
    raise ValueError(
      f'matrix {matrix.shape} needs {rows} row and {cols} column labels, got '
      f'{len(row_labels)} and {len(col_labels)}'
    )
  # Cells wide enough for a 4-character value; room for labels and colour bar.
  fig = Figure(figsize=(2.5 + 0.6 * cols, 1.5 + 0.45 * rows), dpi=100)
  FigureCanvasAgg(fig)
  ax = fig.add_subplot()
  image = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax, aspect='auto')
  fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
  ax.set_xticks(np.arange(cols), labels=list(col_labels), rotation=45)
  ax.set_yticks(np.arange(rows), labels=list(row_labels))
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  ax.set_title(title)
  # Dark text on light cells, light text on dark ones.
  low, high = image.get_clim()
  middle = (low + high) / 2
  for r in range(rows):
    for c in range(cols):
      ax.text(
        c,
        r,
        value_format.format(matrix[r, c]),
        ha='center',
        va='center',
        fontsize=8,
        color='white' if matrix[r, c] > middle else 'black',
      )
  fig.tight_layout()
  return fig


def figure_to_rgb(fig):
  """Renders a figure from `draw_heatmap` to a uint8 [H, W, 3] image."""
  fig.canvas.draw()
  return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
