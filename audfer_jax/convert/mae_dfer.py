"""MAE-DFER / VideoMAE PyTorch checkpoints -> `VideoTransformer` parameters.

Accepts both formats released with sunlicai/MAE-DFER (docs/reference.md):
- fine-tuned `VisionTransformer` state dicts (`blocks.*`, `fc_norm`, `head`);
- the VoxCeleb2 pre-training `PretrainVisionTransformer` (`encoder.*` plus a
  decoder): the decoder, `encoder_to_decoder`, `mask_token` and the
  encoder's final `norm` (unused when fine-tuning) are dropped; `fc_norm`
  and the heads keep their fresh initialisation.
The joint-attention ViT's fused `attn.qkv` weight is split into the `q` and
`kv` projections. The sin-cos position table is not a parameter (the model
regenerates it). The AU head never exists in these checkpoints.
"""

import numpy as np

from audfer_jax.convert.common import Mapped
from audfer_jax.convert.common import conv_kernel
from audfer_jax.convert.common import drop_keys
from audfer_jax.convert.common import linear_kernel
from audfer_jax.convert.common import strip_prefix

_PRETRAIN_ONLY = ('decoder.', 'encoder_to_decoder.', 'mask_token')


def map_key(key, w):
  """One torch key -> {flax path: array}."""
  parts = key.split('.')
  if parts[:2] == ['patch_embed', 'proj']:  # the Flax conv is patch_embed
    parts = ['patch_embed', *parts[2:]]
  if parts[-2:] == ['qkv', 'weight']:  # joint ViT: rows are q, k, v
    prefix = '/'.join(parts[:-2])
    dim = w.shape[1]
    return {
      f'{prefix}/q/kernel': linear_kernel(w[:dim]),
      f'{prefix}/kv/kernel': linear_kernel(w[dim:]),
    }
  if parts[-1] == 'weight':
    if w.ndim == 5:
      parts[-1], w = 'kernel', conv_kernel(w)
    elif w.ndim == 2:
      parts[-1], w = 'kernel', linear_kernel(w)
    else:  # LayerNorm
      parts[-1] = 'scale'
  return {'/'.join(parts): np.asarray(w)}


def to_flax(state_dict, model):
  """Maps a MAE-DFER/VideoMAE state dict onto `model`'s parameter paths.

  Returns (flat, reinit): `flat` for `assign_state`, `reinit` the groups
  that are taken whole when the checkpoint has them in the model's shapes
  and keep their fresh initialisation otherwise: the AU head (never in
  these files), the expression head (another class count, e.g. an 11-class
  MAFW head, or a pre-training checkpoint) and, for a pre-training
  checkpoint, fc_norm.
  """
  sd = dict(state_dict)
  reinit = ('head/', 'au_head/')
  if any(k.startswith('encoder.') for k in sd):
    sd = drop_keys(sd, lambda k: k.startswith(_PRETRAIN_ONLY))
    sd = strip_prefix(sd, 'encoder.')
    sd = drop_keys(sd, lambda k: k.startswith('norm.'))
    print(
      'mae_dfer: pre-training checkpoint, decoder and final encoder norm '
      'dropped; fc_norm and heads are newly initialised'
    )
    reinit += ('fc_norm/',)
  num_classes = model.head.out_features
  if 'head.weight' in sd and sd['head.weight'].shape[0] != num_classes:
    print(
      f'mae_dfer: checkpoint head has {sd["head.weight"].shape[0]} classes, '
      f'the model {num_classes}'
    )
  flat = Mapped()
  for key, w in sd.items():
    for path, array in map_key(key, w).items():
      flat.add(path, array, key)
  return flat, reinit
