"""What surrounds a face in a clip: background, lighting, noise, head motion."""

import dataclasses

import numpy as np

from tfds_builders.au_faces import render


@dataclasses.dataclass(frozen=True)
class Scene:
  """What surrounds a face in a clip: background, lighting and noise."""

  background: tuple[tuple[int, int, int], tuple[int, int, int]]
  background_angle: float  # direction of the background colour gradient
  boxes: tuple[tuple[float, float, float, float, tuple[int, int, int]], ...]
  brightness: float
  light_gradient: float  # relative brightness change across the frame
  light_angle: float
  noise: float  # std of Gaussian pixel noise, in 0..255 units


def sample_scene(rng):
  """Draws a random background, lighting and pixel-noise level."""
  # Up to three flat rectangles stand in for clutter behind the head.
  boxes = tuple(
    (
      *map(float, rng.uniform(-0.2, 1.0, 2)),
      *map(float, rng.uniform(0.1, 0.6, 2)),
      render.color(rng.integers(0, 256, 3)),
    )
    for _ in range(rng.integers(0, 4))
  )
  return Scene(
    background=(
      render.color(rng.integers(0, 256, 3)),
      render.color(rng.integers(0, 256, 3)),
    ),
    background_angle=rng.uniform(0, 2 * np.pi),
    boxes=boxes,
    brightness=rng.uniform(0.75, 1.15),
    light_gradient=rng.uniform(0.0, 0.5),
    light_angle=rng.uniform(0, 2 * np.pi),
    noise=rng.uniform(1.0, 6.0),
  )


def sample_poses(rng, num_frames):
  """Head pose over a clip: a random start pose with slow drift and sway."""
  t = np.linspace(0.0, 1.0, num_frames)
  start = np.array(
    [
      rng.uniform(-0.14, 0.14),  # roll
      rng.uniform(-0.6, 0.6),  # yaw
      rng.uniform(-0.4, 0.4),  # pitch
      rng.uniform(0.85, 1.08),  # scale
      rng.uniform(-0.05, 0.05),  # dx
      rng.uniform(-0.04, 0.04),  # dy
    ]
  )
  drift = rng.normal(0.0, [0.04, 0.2, 0.15, 0.03, 0.015, 0.015])
  sway = rng.normal(0.0, [0.02, 0.1, 0.06, 0.0, 0.005, 0.005])
  phase = rng.uniform(0, 2 * np.pi)
  values = (
    start + t[:, None] * drift + np.sin(2 * np.pi * t[:, None] + phase) * sway
  )
  return [render.Pose(*map(float, v)) for v in values]


def background_image(scene, size):
  """The scene's background at `size` x `size`, uint8 [size, size, 3]."""
  ys, xs = np.mgrid[0:size, 0:size] / max(size - 1, 1)
  t = 0.5 + (
    (xs - 0.5) * np.cos(scene.background_angle)
    + (ys - 0.5) * np.sin(scene.background_angle)
  )
  t = np.clip(t, 0.0, 1.0)[..., None]
  c0, c1 = (np.asarray(c, np.float32) for c in scene.background)
  image = c0 * (1 - t) + c1 * t
  for x, y, w, h, color in scene.boxes:
    x0, y0 = int(x * size), int(y * size)
    x1, y1 = int((x + w) * size), int((y + h) * size)
    image[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = color
  return image.astype(np.uint8)


def light_map(scene, size):
  """The scene's brightness gain per pixel, float32 [size, size, 1]."""
  ys, xs = np.mgrid[0:size, 0:size] / max(size - 1, 1) - 0.5
  direction = xs * np.cos(scene.light_angle) + ys * np.sin(scene.light_angle)
  gain = scene.brightness * (1.0 + scene.light_gradient * direction)
  return gain[..., None].astype(np.float32)


def light_and_noise(image, light, noise, rng):
  """Multiplies a frame by a `light_map` and adds Gaussian pixel noise."""
  grain = rng.standard_normal(image.shape, dtype=np.float32) * noise
  out = image.astype(np.float32) * light + grain
  return np.clip(np.rint(out), 0, 255).astype(np.uint8)
