"""Cartoon faces drawn from AU activations, one frame at a time.

Every facial action unit of OpenFace's 18 moves a visible part of the face:
brows (AU01 inner raise, AU02 outer raise, AU04 lowerer), lids (AU05 upper
lid raise, AU07 tightener, AU45 blink), cheeks (AU06), nose (AU09), upper lip
(AU10), lip corners (AU12 up, AU14 dimple, AU15 down, AU20 stretch), chin
(AU17), lips (AU23 tighten, AU28 suck) and mouth opening (AU25, AU26).

Faces are drawn with PIL on a supersampled canvas in "face units" (1 = half
the face height, origin at the face centre, y down), then box-downsampled,
which anti-aliases every edge. Identity (`Face`) and head pose (`Pose`) are
separate from the activations, so the same face can be rendered under any
expression; `scene.py` adds background, lighting and noise.
"""

import dataclasses

import numpy as np
from PIL import Image
from PIL import ImageDraw

from tfds_builders import facs

# Where the face sits at the identity pose: the face centre (x, y) as
# fractions of the frame, and the length of one face unit (half the face
# height) in frame widths.
FACE_CENTER = (0.5, 0.52)
FACE_SCALE = 0.4

_AU_INDEX = {name: i for i, name in enumerate(facs.AU_PRESENCE_NAMES)}
# Canvas pixels per output pixel are at least this many / image size, so that
# small outputs (32x32) are still drawn on a >= 128 px canvas.
_MIN_CANVAS = 128
_LASH = (40, 28, 26)
_ANGLES = np.linspace(0, 2 * np.pi, 32, endpoint=False)
_COS, _SIN = np.cos(_ANGLES), np.sin(_ANGLES)


@dataclasses.dataclass(frozen=True)
class Face:
  """The identity of one cartoon face: shape, colours, feature geometry."""

  width: float  # half-width of the face, in face units
  chin: float  # length of the lower half of the face
  jaw_taper: float  # 0 = oval, larger = narrower chin
  skin: tuple[int, int, int]
  hair: tuple[int, int, int]
  hair_length: float  # how far down the back hair reaches
  hairline: float  # y of the fringe at the face centre
  shirt: tuple[int, int, int]
  brow_y: float
  brow_thickness: float
  eye_x: float  # eye centre distance from the midline
  eye_y: float
  eye_width: float  # half-width
  eye_height: float  # upper-lid opening
  iris: tuple[int, int, int]
  nose_y: float
  nose_width: float
  mouth_y: float
  mouth_width: float  # half-width
  lip_upper: float
  lip_lower: float
  lip_color: tuple[int, int, int]
  blush: float  # resting cheek colour strength


@dataclasses.dataclass(frozen=True)
class Pose:
  """Head pose and placement in the frame."""

  roll: float = 0.0  # in-plane rotation, radians
  yaw: float = 0.0  # -1..1: features slide sideways, as when turning
  pitch: float = 0.0  # -1..1: features slide up/down
  scale: float = 1.0
  dx: float = 0.0  # face centre offset, in frame widths
  dy: float = 0.0


def _mix(a, b, t):
  return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))


def color(values):
  """An RGB triple of Python ints."""
  return tuple(int(v) for v in values)


def _scaled(color, s):
  return tuple(int(min(255, max(0, round(c * s)))) for c in color)


def sample_face(rng):
  """Draws a random identity."""
  skin = _mix((250, 222, 196), (105, 68, 46), rng.uniform() ** 1.3)
  skin = color(np.clip(np.add(skin, rng.integers(-8, 9, 3)), 0, 255))
  hair = _mix((20, 14, 10), (200, 150, 80), rng.uniform() ** 2)
  if rng.uniform() < 0.1:  # grey hair
    hair = (150, 148, 145)
  eye_y = rng.uniform(-0.26, -0.16)
  return Face(
    width=rng.uniform(0.68, 0.8),
    chin=rng.uniform(0.92, 1.04),
    jaw_taper=rng.uniform(0.1, 0.35),
    skin=skin,
    hair=hair,
    hair_length=rng.uniform(-0.3, 0.9),
    hairline=rng.uniform(-0.78, -0.6),
    shirt=color(rng.integers(20, 235, 3)),
    brow_y=eye_y - rng.uniform(0.17, 0.22),
    brow_thickness=rng.uniform(0.05, 0.08),
    eye_x=rng.uniform(0.28, 0.33),
    eye_y=eye_y,
    eye_width=rng.uniform(0.15, 0.18),
    eye_height=rng.uniform(0.08, 0.1),
    iris=_mix((60, 35, 20), (70, 110, 150), rng.uniform() ** 2),
    nose_y=rng.uniform(0.12, 0.2),
    nose_width=rng.uniform(0.07, 0.1),
    mouth_y=rng.uniform(0.47, 0.54),
    mouth_width=rng.uniform(0.2, 0.26),
    lip_upper=rng.uniform(0.04, 0.06),
    lip_lower=rng.uniform(0.05, 0.07),
    lip_color=_mix(_scaled(skin, 0.8), (190, 70, 80), rng.uniform(0.3, 0.6)),
    blush=rng.uniform(0.0, 0.4),
  )


class _Canvas:
  """Collects shapes in face units, then draws them all in canvas pixels.

  Shapes are transformed in one batch at the end, which keeps the per-shape
  Python overhead low (a frame has about 60 shapes).
  """

  def __init__(self):
    self._shapes = []  # (points [N, 2], depth, fill, line width or None)

  def polygon(self, xy, fill, depth=1.0):
    self._add(xy, depth, fill, None)

  def line(self, xy, fill, width, depth=1.0):
    self._add(xy, depth, fill, width)

  def ellipse(self, cx, cy, rx, ry, fill, depth=1.0):
    xy = np.stack([cx + rx * _COS, cy + ry * _SIN], -1)
    self._add(xy, depth, fill, None)

  def _add(self, xy, depth, fill, width):
    if fill[3:] != (0,):  # fully transparent: an inactive AU's wrinkle
      xy = np.asarray(xy, np.float64).reshape(-1, 2)
      self._shapes.append((xy, depth, fill, width))

  def draw(self, image, pose):
    """Draws the collected shapes on `image` (a PIL image) under `pose`."""
    counts = [len(shape[0]) for shape in self._shapes]
    xy = np.concatenate([shape[0] for shape in self._shapes])
    depth = np.repeat([shape[1] for shape in self._shapes], counts)
    yaw = pose.yaw * depth
    # Turning the head slides the features towards one side and compresses
    # them horizontally; the face outline (depth 0) stays put.
    x = xy[:, 0] * (1.0 - 0.15 * np.abs(yaw)) + 0.14 * yaw
    y = xy[:, 1] + 0.08 * pose.pitch * depth
    size = image.size[0]
    unit = size * FACE_SCALE * pose.scale
    c, s = np.cos(pose.roll), np.sin(pose.roll)
    px = np.empty_like(xy)
    px[:, 0] = (c * x - s * y) * unit + size * (FACE_CENTER[0] + pose.dx)
    px[:, 1] = (s * x + c * y) * unit + size * (FACE_CENTER[1] + pose.dy)
    coords = px.ravel().tolist()
    draw = ImageDraw.Draw(image, 'RGBA')
    start = 0
    for (_, _, fill, width), n in zip(self._shapes, counts, strict=True):
      flat = coords[2 * start : 2 * (start + n)]
      start += n
      if width is None:
        draw.polygon(flat, fill=fill)
      else:
        w = max(1, round(width * unit))
        draw.line(flat, fill=fill, width=w, joint='curve')


def _alpha(color, a):
  return (*color, round(255 * min(max(float(a), 0.0), 1.0)))


def _draw_head(cv, face, au):
  """Shoulders, neck, back hair, ears, face outline and fringe."""
  w = face.width
  cv.ellipse(0, 1.95, 1.3, 0.7, face.shirt, depth=0)
  neck = [(-0.3 * w, 0.4), (0.3 * w, 0.4), (0.35 * w, 1.4), (-0.35 * w, 1.4)]
  cv.polygon(neck, _scaled(face.skin, 0.82), depth=0)
  if face.hair_length > -0.25:
    top, bottom = -1.12, face.hair_length
    cv.ellipse(
      0, (top + bottom) / 2, w * 1.15, (bottom - top) / 2, face.hair, depth=0
    )
  for side in (-1, 1):
    cv.ellipse(side * (w + 0.02), -0.02, 0.09, 0.17, face.skin, depth=0.2)
  theta = np.linspace(0, 2 * np.pi, 64, endpoint=False)
  lower = np.sin(theta) > 0
  chin = face.chin + 0.1 * au['AU26']  # the jaw drop lengthens the face
  x = (
    w * np.cos(theta) * (1 - face.jaw_taper * np.where(lower, np.sin(theta), 0))
  )
  y = np.sin(theta) * np.where(lower, chin, 1.0)
  cv.polygon(np.stack([x, y], -1), face.skin, depth=0)
  # Fringe: the part of the head outline above a curved hairline.
  top = np.linspace(np.pi + 0.05, 2 * np.pi - 0.05, 40)
  hx, hy = 1.03 * w * np.cos(top), 1.03 * np.sin(top)
  keep = hy <= face.hairline + 0.45 * (hx / w) ** 2
  if keep.sum() >= 2:
    hx, hy = hx[keep], hy[keep]
    back = np.linspace(hx[-1], hx[0], 16)
    cap = np.concatenate(
      [
        np.stack([hx, hy], -1),
        np.stack([back, face.hairline + 0.45 * (back / w) ** 2], -1),
      ]
    )
    cv.polygon(cap, face.hair, depth=0.3)


def _draw_brows(cv, face, au):
  """Brows with AU01/02/04 (and AU09's slight lowering), forehead lines."""
  dark = _scaled(face.skin, 0.55)
  raise_ = max(au['AU01'], au['AU02'])
  for i in range(3):
    y = face.brow_y - 0.13 - 0.06 * i
    xs = np.linspace(-0.28, 0.28, 9)
    cv.line(
      np.stack([xs, y - 0.04 * (1 - (xs / 0.28) ** 2)], -1),
      _alpha(dark, 1.3 * raise_ - 0.15),
      0.014,
    )
  color = _mix(face.hair, (25, 18, 14), 0.4)
  t = np.linspace(0, 1, 7)
  for side in (-1, 1):
    inner, outer = face.eye_x - 0.15, face.eye_x + 0.17
    x = inner + (outer - inner) * t - 0.06 * au['AU04'] * (1 - t)
    y = (
      face.brow_y
      - 0.04 * np.sin(np.pi * t * 0.9)
      - 0.17 * au['AU01'] * (1 - t) ** 1.5
      - 0.15 * au['AU02'] * t**1.2
      + 0.09 * au['AU04']
      + 0.06 * au['AU04'] * (1 - t)
      + 0.03 * au['AU09']
    )
    half = face.brow_thickness * (1.25 - 0.6 * t) / 2
    outline = np.concatenate(
      [np.stack([x, y - half], -1), np.stack([x, y + half], -1)[::-1]]
    )
    outline[:, 0] *= side
    cv.polygon(outline, color)
    # Glabella furrows between the lowered brows.
    gx = side * (inner - 0.09)
    cv.line(
      [(gx, face.brow_y + 0.02), (gx * 0.8, face.brow_y + 0.11)],
      _alpha(dark, 1.2 * au['AU04'] - 0.1),
      0.014,
    )


def _lid_curves(face, au, side):
  """Upper and lower lid curves of one eye, as x and two y arrays."""
  x = np.linspace(-face.eye_width, face.eye_width, 13)
  shape = 1.0 - (x / face.eye_width) ** 2
  up = face.eye_height * (
    1.0
    + 1.0 * au['AU05']
    - 0.4 * au['AU07']
    - 0.25 * au['AU04']
    - 0.2 * au['AU06']
    - 0.15 * au['AU09']
  )
  low = (
    face.eye_height
    * 0.55
    * (1.0 - 0.6 * au['AU07'] - 0.5 * au['AU06'] - 0.1 * au['AU09'])
  )
  lower = face.eye_y + low * shape
  upper = face.eye_y - max(up, 0.0) * shape
  upper = lower + (upper - lower) * (1.0 - au['AU45'])  # the blink
  return side * face.eye_x + x, upper, lower


def _draw_eyes(cv, face, au):
  """Eyes with AU05/07/45 on the lids, AU06 cheeks and crow's feet."""
  dark = _scaled(face.skin, 0.6)
  blush = (215, 95, 95)
  for side in (-1, 1):
    cheek_y = face.eye_y + 0.28 - 0.07 * au['AU06']
    cv.ellipse(
      side * (face.eye_x + 0.04),
      cheek_y,
      0.13,
      0.08 + 0.03 * au['AU06'],
      _alpha(blush, 0.15 * face.blush + 0.45 * au['AU06']),
    )
    x, upper, lower = _lid_curves(face, au, side)
    crease = face.eye_y - (face.eye_height + 0.045) * (
      1 - ((x - side * face.eye_x) / face.eye_width / 1.1) ** 2
    )
    cv.line(np.stack([x, crease], -1), _alpha(dark, 0.5), 0.012)
    cv.polygon(
      np.concatenate(
        [np.stack([x, upper], -1), np.stack([x, lower], -1)[::-1]]
      ),
      (246, 244, 238),
    )
    for radius, color in ((0.045, face.iris), (0.02, (12, 10, 10))):
      ix = np.clip(side * face.eye_x + radius * _COS, x[0], x[-1])
      iy = face.eye_y + 0.004 + radius * _SIN
      iy = np.clip(iy, np.interp(ix, x, upper), np.interp(ix, x, lower))
      cv.polygon(np.stack([ix, iy], -1), color)
    cv.line(
      np.stack([x, lower], -1), _alpha(dark, 0.45 + 0.5 * au['AU07']), 0.012
    )
    cv.line(np.stack([x, upper], -1), _LASH, 0.022)
    # Under-eye furrow pushed up by the raised cheek (AU06) or lid (AU07).
    fy = lower + 0.05 - 0.02 * au['AU06']
    cv.line(
      np.stack([x[2:-2], fy[2:-2]], -1),
      _alpha(dark, 1.1 * max(au['AU06'], 0.7 * au['AU07']) - 0.1),
      0.012,
    )
    corner = np.array([side * (face.eye_x + face.eye_width + 0.02), face.eye_y])
    for angle in (-0.45, 0.0, 0.45):
      tip = corner + 0.08 * np.array([side * np.cos(angle), np.sin(angle)])
      cv.line([corner, tip], _alpha(dark, 1.2 * au['AU06'] - 0.15), 0.012)


def _draw_nose(cv, face, au):
  """Nose with AU09 wrinkles and nostrils raised by AU09/AU10."""
  dark = _scaled(face.skin, 0.6)
  ny, nw = face.nose_y, face.nose_width
  lift = 0.04 * au['AU09'] + 0.02 * au['AU10']
  cv.line(
    [(0.03, face.eye_y + 0.04), (0.05, ny - 0.05)], _alpha(dark, 0.3), 0.012
  )
  xs = np.linspace(-nw, nw, 11)
  cv.line(
    np.stack([xs, ny - lift + 0.03 * (1 - (xs / nw) ** 2) - 0.02], -1),
    _alpha(dark, 0.75),
    0.018,
  )
  for side in (-1, 1):
    cv.ellipse(
      side * nw * 0.5,
      ny + 0.01 - lift,
      0.026 * (1 + 0.5 * au['AU09']),
      0.014,
      _alpha((70, 40, 38), 0.85),
    )
  for i in range(3):
    y = face.eye_y + 0.05 + 0.035 * i
    cv.line(
      [(-0.05, y), (0.05, y)], _alpha(dark, 1.3 * au['AU09'] - 0.1), 0.012
    )


def _mouth_shape(face, au):
  """Corner and lip centre positions of the mouth, from the lip AUs."""
  my, mw = face.mouth_y, face.mouth_width
  half = mw * (
    1.0
    + 0.28 * au['AU12']
    + 0.35 * au['AU20']
    - 0.12 * au['AU14']
    - 0.22 * au['AU23']
    - 0.1 * au['AU28']
    - 0.1 * au['AU26']
  )
  corner_y = (
    my
    - 0.14 * au['AU12']
    + 0.13 * au['AU15']
    - 0.02 * au['AU14']
    + 0.03 * au['AU20']
    + 0.05 * au['AU26']
  )
  # AU17 pushes the lower lip, and with it the closed mouth, up in the
  # middle: an inverted-U mouth.
  upper_y = my - 0.07 * au['AU10'] - 0.01 * au['AU25'] - 0.04 * au['AU17']
  gap = (0.08 * au['AU25'] + 0.28 * au['AU26']) * (1.0 - 0.6 * au['AU17'])
  lower_y = max(my + gap - 0.04 * au['AU17'], upper_y)
  thin = 1.0 - 0.6 * au['AU23'] - 0.85 * au['AU28'] - 0.3 * au['AU20']
  return half, corner_y, upper_y, lower_y, max(thin, 0.05)


def _draw_mouth(cv, face, au):
  """Lips, teeth, mouth opening, nasolabial folds, dimples and chin."""
  dark = _scaled(face.skin, 0.6)
  half, corner_y, upper_y, lower_y, thin = _mouth_shape(face, au)
  x = np.linspace(-half, half, 17)
  shape = 1.0 - (x / half) ** 2
  upper_in = corner_y + (upper_y - corner_y) * shape
  lower_in = corner_y + (lower_y - corner_y) * shape
  bow = 1.0 - 0.3 * np.exp(-((x / (0.2 * half)) ** 2))  # cupid's bow dip
  upper_out = upper_in - face.lip_upper * thin * np.sqrt(shape) * bow
  # The chin raiser (AU17) also pushes the lower lip out: it looks fuller.
  pout = 1.0 + 0.5 * au['AU17']
  lower_out = lower_in + face.lip_lower * thin * pout * np.sqrt(shape)
  fold = 0.15 + 0.8 * max(
    au['AU12'], au['AU10'], au['AU09'], 0.6 * au['AU06'], 0.5 * au['AU14']
  )
  for side in (-1, 1):
    top = (
      side * (face.nose_width + 0.03),
      face.nose_y - 0.02 - 0.03 * au['AU10'],
    )
    end = (side * (half + 0.05), corner_y + 0.07)
    mid = (side * (half + 0.08), (top[1] + end[1]) / 2)
    cv.line([top, mid, end], _alpha(dark, fold), 0.016)
    cv.line(
      [
        (side * (half + 0.03), corner_y - 0.03),
        (side * (half + 0.035), corner_y + 0.03),
      ],
      _alpha(dark, 1.2 * au['AU14'] - 0.1),
      0.016,
    )

  def band(top, bottom):
    return np.concatenate(
      [np.stack([x, top], -1), np.stack([x, bottom], -1)[::-1]]
    )

  cv.polygon(band(upper_out, upper_in), face.lip_color)
  cv.polygon(band(lower_in, lower_out), face.lip_color)
  if lower_y - upper_y > 0.004:
    cv.polygon(band(upper_in, lower_in), (70, 22, 28))
    teeth = np.minimum(upper_in + 0.05 * np.sqrt(shape), lower_in)
    cv.polygon(band(upper_in, teeth), (236, 232, 222))
    low_teeth = np.maximum(lower_in - 0.035 * np.sqrt(shape), teeth)
    cv.polygon(band(low_teeth, lower_in), _alpha((236, 232, 222), au['AU26']))
  cv.line(np.stack([x, upper_in], -1), (105, 40, 44), 0.014)
  # Chin: the mentolabial furrow and dimpling deepen as AU17 pushes up.
  chin_y = lower_y + face.lip_lower + 0.09 - 0.03 * au['AU17']
  xs = np.linspace(-0.1, 0.1, 7)
  cv.line(
    np.stack([xs, chin_y - 0.03 * (1 - (xs / 0.1) ** 2)], -1),
    _alpha(dark, 0.2 + 0.7 * au['AU17']),
    0.016,
  )
  for dx, dy in ((-0.05, 0.07), (0.0, 0.09), (0.05, 0.07)):
    cv.ellipse(
      dx, chin_y + dy, 0.018, 0.014, _alpha(dark, 1.2 * au['AU17'] - 0.1)
    )


def render_face(face, activation, pose, size, background=None):
  """Draws one frame of `face` with the given AU activations.

  Args:
    face: a `Face` identity.
    activation: [18] activations in [0, 1], in `facs.AU_PRESENCE_NAMES` order.
    pose: a `Pose`.
    size: output width and height in pixels.
    background: uint8 [size, size, 3] to draw on; mid grey when None.

  Returns:
    uint8 [size, size, 3], without lighting or noise.
  """
  activation = np.clip(np.asarray(activation, np.float64), 0.0, 1.0)
  if activation.shape != (facs.NUM_AUS,):
    raise ValueError(f'activation must be [18], got {activation.shape}')
  au = {name: float(activation[i]) for name, i in _AU_INDEX.items()}
  factor = max(2, -(-_MIN_CANVAS // size))
  if background is None:
    background = np.full((size, size, 3), 128, np.uint8)
  canvas = Image.fromarray(background).resize(
    (size * factor, size * factor), Image.Resampling.NEAREST
  )
  cv = _Canvas()
  for draw_part in (_draw_head, _draw_brows, _draw_eyes, _draw_nose):
    draw_part(cv, face, au)
  _draw_mouth(cv, face, au)
  cv.draw(canvas, pose)
  return np.asarray(canvas.reduce(factor))
