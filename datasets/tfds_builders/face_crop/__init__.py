"""Face crops from videos: decode, detect, track a smoothed square box, crop.

  python -m tfds_builders.face_crop --input PATH --output DIR [--size 224]

No JAX and no TensorFlow: OpenCV decodes the videos and its bundled Haar
cascades find the faces (see `detector.py` for what they are good for).
"""

# The video files the command looks for (case-insensitive). OpenCV's FFmpeg
# decodes them all; CREMA-D ships .flv, eNTERFACE'05 .avi.
VIDEO_SUFFIXES = ('.mp4', '.avi', '.mov', '.mkv', '.flv', '.webm')
