"""Finding things in a manual download whose folder layout varies.

Users extract the official zips differently: doubled folders
(`clip_224x224/clip_224x224/`), zip-named parents (`2_ClipsforFaceCrop-002/`),
renamed split folders. Roots are therefore found by searching for a marker
folder rather than by one hard-coded path.
"""

from collections.abc import Callable
import itertools
import os
import re

from etils import epath

from tfds_builders.errors import DatasetLayoutError

# The folder of the manual dir that holds OpenFace CSVs. It mirrors the clip
# tree: the frames of `<manual_dir>/<rel>/` have the AUs of
# `<manual_dir>/openface/<rel>.csv`.
OPENFACE_DIRNAME = 'openface'
# The folder of the manual dir that holds the face-crop stage's output
# (`python -m tfds_builders.face_crop`): the frames of the video
# `<manual_dir>/<rel>/<stem>.<ext>` are in `<manual_dir>/frames/<rel>/<stem>/`.
FACE_CROP_DIRNAME = 'frames'
FACE_CROP_COMMAND = 'python -m tfds_builders.face_crop --manual_dir {}'

_MAX_DEPTH = 5
_LAST_INT = re.compile(r'(\d+)(?!.*\d)')


def find_dir(root, matches: Callable[[epath.Path], bool], what: str, prune=()):
  """The unique shallowest folder under `root` for which `matches` is true.

  The search is breadth first, skips the OpenFace folder (it mirrors the clip
  tree) and does not look inside clip folders (all-digit names), which keeps
  it cheap on trees with tens of thousands of clips.

  Args:
    root: the manual dir.
    matches: predicate on a folder.
    what: a description of the folder for error messages.
    prune: folder names not searched, at any depth (frame trees whose clip
      folders do not have all-digit names).

  Returns:
    The matching folder.

  Raises:
    DatasetLayoutError: no folder or several folders at the same depth match.
  """
  root = epath.Path(root)
  level = [root]
  for _ in range(_MAX_DEPTH):
    children = []
    for folder in level:
      for child in sorted(folder.iterdir()):
        skip = (
          child.name.isdigit()
          or child.name in prune
          or (folder == root and child.name == OPENFACE_DIRNAME)
        )
        if not skip and child.is_dir():
          children.append(child)
    found = [c for c in children if matches(c)]
    if len(found) > 1:
      raise DatasetLayoutError(
        f'{root}: found several folders for {what}: '
        + ', '.join(str(f) for f in found)
      )
    if found:
      return found[0]
    level = children
  raise DatasetLayoutError(
    f'{root}: no folder for {what} within {_MAX_DEPTH} levels; see the '
    'manual download instructions for the expected layout'
  )


def find_named_dir(root, pattern: str, what: str):
  """The folder whose name fully matches `pattern`, doubled folders undone.

  `clip_224x224/clip_224x224/` and `2_ClipsforFaceCrop-002/2_ClipsforFaceCrop/`
  both resolve to the inner folder: while the found folder holds a child whose
  name also matches, that child is taken.

  Args:
    root: the manual dir.
    pattern: regular expression for the folder name.
    what: a description of the folder for error messages.

  Returns:
    The folder.
  """
  regex = re.compile(pattern)
  folder = find_dir(root, lambda p: bool(regex.fullmatch(p.name)), what)
  while True:
    inner = [
      c for c in folder.iterdir() if regex.fullmatch(c.name) and c.is_dir()
    ]
    if len(inner) != 1:
      return folder
    folder = inner[0]


def frame_number(path) -> int:
  """The last integer in a frame file's stem: `00001_00012.jpg` -> 12."""
  stem = epath.Path(path).stem
  match = _LAST_INT.search(stem)
  if match is None:
    raise DatasetLayoutError(f'{path}: frame file name has no frame number')
  return int(match.group(1))


def sorted_frames(frame_dir, suffixes=('.jpg', '.jpeg', '.png')):
  """The frame files of a clip folder in true temporal (numeric) order.

  Numeric, not lexicographic: DFEW's 16-frame set names frames `1.jpg` ...
  `16.jpg`, which sort as 1, 10, ..., 16, 2, ... as strings.

  Args:
    frame_dir: the clip folder.
    suffixes: accepted file extensions (lower case).

  Returns:
    The list of frame paths.

  Raises:
    DatasetLayoutError: the folder is missing, has no frames, or two frames
      carry the same number.
  """
  frame_dir = epath.Path(frame_dir)
  if not frame_dir.is_dir():
    raise DatasetLayoutError(f'{frame_dir}: frames folder is missing')
  frames = [p for p in frame_dir.iterdir() if p.suffix.lower() in suffixes]
  if not frames:
    raise DatasetLayoutError(
      f'{frame_dir}: frames folder has no {"/".join(suffixes)} files'
    )
  numbered = sorted((frame_number(p), p.name, p) for p in frames)
  for (a, name_a, _), (b, name_b, _) in itertools.pairwise(numbered):
    if a == b:
      raise DatasetLayoutError(
        f'{frame_dir}: frames {name_a} and {name_b} have the same number {a}'
      )
  return [p for _, _, p in numbered]


def openface_csv_path(manual_dir, clip_dir):
  """Where the OpenFace CSV of a clip folder lives: the mirrored tree.

  `<manual_dir>/<rel>` -> `<manual_dir>/openface/<rel>.csv`.
  """
  manual_dir = epath.Path(manual_dir)
  rel = epath.Path(clip_dir).relative_to(manual_dir)
  return manual_dir / OPENFACE_DIRNAME / rel.parent / f'{rel.name}.csv'


def find_videos(manual_dir, suffixes):
  """Every video file under `manual_dir`, sorted, frame trees left out.

  The OpenFace, face-crop and `cropped_aligned` folders hold frames and CSVs
  only, and can be huge, so they are not walked.

  Args:
    manual_dir: the manual dir.
    suffixes: accepted file extensions (lower case, with the dot).

  Returns:
    The sorted list of video paths.
  """
  manual_dir = epath.Path(manual_dir)
  pruned = {OPENFACE_DIRNAME, FACE_CROP_DIRNAME, 'cropped_aligned'}
  found = []
  for folder, dirs, files in os.walk(manual_dir):
    dirs[:] = [d for d in dirs if d not in pruned]
    found += [
      manual_dir / os.path.relpath(folder, manual_dir) / f
      for f in files
      if os.path.splitext(f)[1].lower() in suffixes
    ]
  return sorted(found)


def face_crop_dir(manual_dir, video):
  """The face-crop stage's frames folder of a video file under `manual_dir`.

  `<manual_dir>/<rel>/<stem>.<ext>` -> `<manual_dir>/frames/<rel>/<stem>`.
  """
  manual_dir = epath.Path(manual_dir)
  rel = epath.Path(video).relative_to(manual_dir)
  return manual_dir / FACE_CROP_DIRNAME / rel.parent / epath.Path(rel).stem


def face_crop_roots(manual_dir):
  """The face-crop output folder of a manual dir, when there is one."""
  root = epath.Path(manual_dir) / FACE_CROP_DIRNAME
  return [root] if root.is_dir() else []


def frame_folders(root, suffixes=('.jpg', '.jpeg', '.png')):
  """Every folder under `root` that directly holds frame images, sorted.

  Hidden folders are left out: the face-crop stage writes each clip under
  `.<name>.tmp` first, and a killed run can leave one behind.
  """
  root = epath.Path(root)
  found = []
  for folder, dirs, files in os.walk(root):
    dirs[:] = [d for d in dirs if not d.startswith('.')]
    if any(f.lower().endswith(suffixes) for f in files):
      found.append(root / os.path.relpath(folder, root))
  return sorted(found)


def check_face_crops(manual_dir, videos):
  """Raises naming the first video whose face-crop frames folder is missing.

  Args:
    manual_dir: the manual dir.
    videos: the video files whose frames the builder reads.
  """
  for video in videos:
    folder = face_crop_dir(manual_dir, video)
    if not folder.is_dir():
      raise DatasetLayoutError(
        f'{video}: no face-crop frames folder {folder}; run '
        + FACE_CROP_COMMAND.format(manual_dir)
      )
