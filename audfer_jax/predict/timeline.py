"""The picture of a prediction: face crops, the expression probabilities
over time and the most likely AUs over time.

matplotlib's object API on an Agg canvas, as `audfer_jax.heatmap`.
"""

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
import numpy as np


def top_aus(aus, k):
  """Indices of the `k` AUs with the highest mean probability, best first."""
  return np.argsort(-aus.mean(axis=0), kind='stable')[:k]


def draw(
  faces,
  face_frames,
  centres,
  expression,
  aus,
  class_names,
  au_names,
  fps=None,
  num_aus=6,
  title='',
):
  """The timeline figure.

  Args:
    faces: a few face crops [K, H, W, 3] uint8, shown on top.
    face_frames: the frame index of each crop.
    centres: [N] middle frame of each window.
    expression: [N, C] probabilities; aus: [N, 18] probabilities.
    fps: frames per second, for a time axis in seconds (else frames).

  Returns:
    A matplotlib `Figure` on an Agg canvas.
  """
  scale, unit = (1.0 / fps, 's') if fps else (1.0, 'frame')
  t = np.asarray(centres) * scale
  fig = Figure(figsize=(10, 7.5), dpi=100)
  FigureCanvasAgg(fig)
  grid = fig.add_gridspec(3, len(faces), height_ratios=(1.1, 1.6, 1.2))
  for i, (face, frame) in enumerate(zip(faces, face_frames, strict=True)):
    ax = fig.add_subplot(grid[0, i])
    ax.imshow(face)
    ax.set_title(f'{frame * scale:.1f} {unit}', fontsize=8)
    ax.axis('off')

  ax = fig.add_subplot(grid[1, :])
  for c, name in enumerate(class_names):
    ax.plot(t, expression[:, c], label=name, linewidth=1.5)
  ax.set_ylim(0, 1)
  ax.set_xlim(t[0] - 0.5 * scale, t[-1] + 0.5 * scale)
  ax.set_ylabel('expression probability')
  ax.legend(fontsize=8, ncol=min(len(class_names), 4), loc='upper right')
  ax.grid(alpha=0.3)

  top = top_aus(aus, num_aus)
  ax2 = fig.add_subplot(grid[2, :], sharex=ax)
  half = (t[1] - t[0]) / 2 if len(t) > 1 else 0.5 * scale
  image = ax2.imshow(
    aus[:, top].T,
    aspect='auto',
    cmap='magma',
    vmin=0.0,
    vmax=1.0,
    extent=(t[0] - half, t[-1] + half, len(top) - 0.5, -0.5),
    interpolation='nearest',
  )
  ax2.set_yticks(range(len(top)), [au_names[i] for i in top])
  ax2.set_xlabel(f'time ({unit}, window centres)')
  ax2.set_title(f'top {len(top)} AUs (probability)', fontsize=9)
  fig.colorbar(image, ax=ax2, pad=0.01, fraction=0.03)
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  return fig
