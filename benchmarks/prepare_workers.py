"""Dataset preparation in one process against worker processes.

  python -m benchmarks.prepare_workers [--clips 320] [--workers 1,2] [--reps 2]

A DFEW-layout folder (`Clip/clip_224x224_16f/<id>/1.jpg..16.jpg`, the five
folds' lists, an OpenFace CSV per clip) of `--clips` clips whose frames are
au_faces faces rendered at 224 x 224 (JPEG quality 90, as the benchmark
datasets of `benchmarks.input_pipeline`) is prepared as
`dfew/clip_224x224_16f` with each `--workers` value, `--reps` times in
turn. Per run: wall seconds, clips/s and frames/s, this process's CPU
seconds (TFDS writing, and with workers also unpickling their results) and
the workers' CPU seconds (reading). With 1 worker the seconds spent reading
the clips are also timed: the rest is the writing that stays in this
process whatever the number of workers, which bounds the speedup. A first
preparation of 10 clips, not timed, loads TensorFlow.
"""

import argparse
import io
import os
import resource
import statistics
import tempfile
import time

import numpy as np

_FRAMES = 16
_DISTINCT = 8  # rendered clips, whose frames the other clips reuse


def _parser():
  p = argparse.ArgumentParser(
    prog='python -m benchmarks.prepare_workers',
    description=__doc__,
    formatter_class=argparse.RawDescriptionHelpFormatter,
  )
  p.add_argument('--clips', type=int, default=320)
  p.add_argument('--workers', default='1,2', help='comma-separated counts')
  p.add_argument('--reps', type=int, default=2)
  return p


def _rendered_frames():
  """JPEG bytes of `_DISTINCT` au_faces clips of 16 frames, 224 px."""
  from PIL import Image

  from tfds_builders.au_faces import au_faces_dataset_builder as au_faces
  from tfds_builders.au_faces import synthesis

  config = au_faces.AuFacesConfig(
    name='bench', image_size=224, min_frames=_FRAMES, max_frames=_FRAMES
  )
  clips = []
  for i in range(_DISTINCT):
    rng = synthesis.clip_rng(0, 'train', i)
    frames = synthesis.synthesize_clip(rng, i % 7, config)['frames']
    jpegs = []
    for pixels in frames:
      buffer = io.BytesIO()
      Image.fromarray(pixels).save(
        buffer, format='JPEG', quality=au_faces.JPEG_QUALITY
      )
      jpegs.append(buffer.getvalue())
    clips.append(jpegs)
  return clips


def _openface_csv(rng):
  from tfds_builders import openface

  header = ('frame', 'face_id', 'timestamp', 'confidence', 'success')
  header += openface.INTENSITY_COLUMNS + openface.PRESENCE_COLUMNS
  lines = [', '.join(header)]
  n_int, n_pres = (
    len(openface.INTENSITY_COLUMNS),
    len(openface.PRESENCE_COLUMNS),
  )
  for frame in range(1, _FRAMES + 1):
    values = [frame, 0, 0, 0.98, 1]
    values += [f'{v:.2f}' for v in rng.uniform(0, 5, n_int)]
    values += list(rng.integers(0, 2, n_pres))
    lines.append(', '.join(str(v) for v in values))
  return '\n'.join(lines) + '\n'


def make_dfew(root, num_clips):
  """A DFEW-layout manual dir of `num_clips` 16-frame 224 px clips."""
  clips = _rendered_frames()
  rng = np.random.default_rng(0)
  frames_dir = os.path.join(root, 'Clip', 'clip_224x224_16f')
  csv_dir = os.path.join(root, 'openface', 'Clip', 'clip_224x224_16f')
  os.makedirs(csv_dir)
  test_sets = {k: [] for k in range(1, 6)}
  for c in range(1, num_clips + 1):
    name = f'{c:05d}'
    os.makedirs(os.path.join(frames_dir, name))
    for n, jpeg in enumerate(clips[c % _DISTINCT], start=1):
      with open(os.path.join(frames_dir, name, f'{n}.jpg'), 'wb') as f:
        f.write(jpeg)
    with open(os.path.join(csv_dir, f'{name}.csv'), 'w') as f:
      f.write(_openface_csv(rng))
    test_sets[1 + c % 5].append(f'{c},{1 + c % 7}\n')
  for kind in ('test', 'train'):
    folder = os.path.join(root, 'EmoLabel_DataSplit', f'{kind}(single-labeled)')
    os.makedirs(folder)
    for k in test_sets:
      members = (
        test_sets[k]
        if kind == 'test'
        else sorted(
          row for j, rows in test_sets.items() if j != k for row in rows
        )
      )
      with open(os.path.join(folder, f'set_{k}.csv'), 'w') as f:
        f.write('video_name,label\n' + ''.join(members))


def _children_cpu():
  usage = resource.getrusage(resource.RUSAGE_CHILDREN)
  return usage.ru_utime + usage.ru_stime


def prepare_once(manual_dir, workers):
  """{wall, parent_cpu, workers_cpu, read_cpu}: one preparation in a new
  dir (CPU seconds, which a loaded machine does not inflate)."""
  import tensorflow_datasets as tfds

  from tfds_builders import clip_builder

  read_cpu = [0.0]
  original = clip_builder._read_clip

  def timed_read(*args, **kwargs):  # in this process only (workers=1)
    start = time.process_time()
    try:
      return original(*args, **kwargs)
    finally:
      read_cpu[0] += time.process_time() - start

  if workers == 1:
    clip_builder._read_clip = timed_read
  try:
    with tempfile.TemporaryDirectory() as data_dir:
      builder = tfds.builder(
        'dfew/clip_224x224_16f', data_dir=data_dir, workers=workers
      )
      wall, cpu, children = (
        time.perf_counter(),
        time.process_time(),
        (_children_cpu()),
      )
      builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir)
      )
      return {
        'wall': time.perf_counter() - wall,
        'parent_cpu': time.process_time() - cpu,
        'workers_cpu': _children_cpu() - children,
        'read_cpu': read_cpu[0] if workers == 1 else None,
      }
  finally:
    clip_builder._read_clip = original


def main(args):
  import tensorflow_datasets as tfds

  import tfds_builders  # noqa: F401  registers dfew

  tfds.disable_progress_bar()
  counts = [int(w) for w in args.workers.split(',')]
  print(f'{os.cpu_count()} CPUs, load {os.getloadavg()}', flush=True)
  with tempfile.TemporaryDirectory() as warm_up:
    # TensorFlow loads and initialises on the first write: not timed.
    make_dfew(warm_up, 10)
    prepare_once(warm_up, 1)
  with tempfile.TemporaryDirectory() as manual_dir:
    make_dfew(manual_dir, args.clips)
    runs = {w: [] for w in counts}
    for rep in range(args.reps):
      for w in counts:
        runs[w].append(prepare_once(manual_dir, w))
        r = runs[w][-1]
        print(
          f'rep {rep} workers {w}: {r["wall"]:.2f} s wall, parent CPU '
          f'{r["parent_cpu"]:.2f} s, workers CPU {r["workers_cpu"]:.2f} s'
          + (f' (reading {r["read_cpu"]:.2f} s)' if r['read_cpu'] else ''),
          flush=True,
        )
  frames = args.clips * _FRAMES
  base = statistics.median(r['wall'] for r in runs[counts[0]])
  print(f'\n{args.clips} clips x {_FRAMES} frames, 224 x 224 JPEG')
  print('workers  wall s  clips/s  frames/s  speedup  parent CPU s')
  for w in counts:
    wall = statistics.median(r['wall'] for r in runs[w])
    parent = statistics.median(r['parent_cpu'] for r in runs[w])
    print(
      f'{w:7d}  {wall:6.2f}  {args.clips / wall:7.1f}  {frames / wall:8.0f}'
      f'  {base / wall:6.2f}x  {parent:12.2f}'
    )
  if 1 in runs and len(counts) > 1:
    read = statistics.median(r['read_cpu'] for r in runs[1])
    total = statistics.median(r['parent_cpu'] for r in runs[1])
    many = counts[-1]
    parent = statistics.median(r['parent_cpu'] for r in runs[many])
    workers_cpu = statistics.median(r['workers_cpu'] for r in runs[many])
    print(
      f'CPU s, one process: {total:.2f} ({read:.2f} reading, '
      f'{total - read:.2f} writing = {100 * (total - read) / total:.0f}%); '
      f'with {many} workers: {parent:.2f} in this process (writing and '
      f'unpickling), {workers_cpu:.2f} in the workers (reading and their '
      f'start). This process bounds the speedup on idle cores to '
      f'{total / parent:.1f}x.'
    )


if __name__ == '__main__':
  main(_parser().parse_args())
