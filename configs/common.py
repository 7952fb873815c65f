"""The field set of every config, and the training recipe of each model.

The experiment files read top to bottom (scenic style, one file per model x
dataset): the base config with every field, the dataset, the model's
recipe, then anything that differs from it. A recipe is named after the
model it trains (`models.names()`: 'm3dfel', 'former_dfer', 'mae_dfer'; the
file names shorten them to m3dfel, former, mae) and follows that model's
reference code (docs/reference.md): M3DFEL (AdamW + timm cosine, 112 px,
/255), Former-DFER (SGD + step decay, 112 px, /255) and MAE-DFER (AdamW +
layer decay, 160 px, ImageNet mean/std, RandAugment, mixup/cutmix, random
erasing).
"""

import os

import ml_collections

from audfer_jax.data import folds


def get_base_config():
  """Every field a run reads, with defaults; experiment files override."""
  config = ml_collections.ConfigDict()
  config.seed = 42  # initial weights, data order, dropout

  # Data. `dataset` is a TFDS name ('builder' or 'builder/config').
  config.dataset = 'au_faces'
  # Splits; both 'fold' select fold `fold` (1..5) of DFEW's or MAFW's 5 folds.
  config.train_split = 'train'
  config.test_split = 'test'  # evaluated every eval_every_epochs
  config.fold = 1  # 1..5, when both splits are 'fold'
  # Where TFDS datasets are prepared and read (TFDS_DATA_DIR if set).
  config.data_dir = os.environ.get(
    'TFDS_DATA_DIR', os.path.expanduser('~/tensorflow_datasets')
  )
  # Where the raw files are (DFEW, ..., or a video_folder's videos); a run
  # prepares `dataset` from them when it is not prepared yet.
  config.manual_dir = ''
  config.shuffle_buffer_size = 1024  # clips tf.data shuffles among
  config.prefetch = 2  # host batches tf.data prepares ahead
  # Global batches whose host-to-device copies run ahead of the step (GPUs:
  # the copy of the next batches overlaps the current step); 0: none.
  config.device_prefetch = 2

  # Temporal sampling (audfer_jax/data/video_sampling.py), at training and test.
  # The published code's samplers, quirks included:
  #   'm3dfel_upstream': frame i of T at n i / T plus a random 0..T-1, clipped
  #     to n - 1, also at test (there seeded per clip: repeatable);
  #   'mae_dfer_upstream': T frames at `sampling_rate` in a random window;
  #     shorter clips: n // rate frames padded with the last one. Test: the
  #     strided list's first and last T (`eval_views` 2);
  #   'former_dfer_upstream': TSN, `frames_per_segment` consecutive frames
  #     per segment (integer segment length), random start in training,
  #     segment centres at test;
  #   'all_frames': every frame of a T-frame clip (AU-DFER's Former-DFER on
  #     DFEW's 16-frame clips).
  # The clean ones: 'segments' (TSN over the whole clip, short clips spread
  # evenly) and 'window' (T frames spread over a random window or the whole
  # shorter clip; the same test clips as 'mae_dfer_upstream').
  config.sampling = 'segments'
  config.num_frames = -1  # -1: the model's input length
  config.frames_per_segment = 1  # consecutive frames per TSN segment
  config.sampling_rate = 4  # windows: frames between two sampled ones
  # Evaluation views of the windows: 1, or 2 temporal clips (MAE-DFER's start
  # and end clips) whose softmax probabilities are averaged.
  config.eval_views = 1

  # Spatial processing. -1: take it from the model's input shape.
  config.image_size = -1
  # Central fraction of each side kept before any other spatial op (1: all).
  # The real datasets are face crops already; au_faces frames are not.
  config.center_crop = 1.0
  config.normalize = 'unit'  # 'unit' (/255) or 'imagenet' (mean/std)
  config.eval_resize = 'square'  # 'square' or 'short_side_crop'
  config.augment = ml_collections.ConfigDict(
    dict(
      resize_first=False,  # MAE-DFER: resize frames to square first
      # The training crop: 'random_resized' (crop_area, crop_aspect) or
      # MAE-DFER's pre-training 'group_multiscale' (crop_scales; the host's
      # tf.data only, not on_device).
      crop='random_resized',
      crop_area=(0.08, 1.0),  # random resized crop: area fraction range
      crop_aspect=(3 / 4, 4 / 3),  # and aspect ratio range
      # group_multiscale: sides as fractions of the short side
      crop_scales=(1.0, 0.875, 0.75, 0.66),
      flip=True,  # random horizontal flip
      color_jitter=0.0,  # brightness = contrast = saturation = hue range
      randaugment_n=0,  # 0 disables RandAugment
      randaugment_m=7,  # magnitude
      randaugment_mstd=0.5,  # magnitude noise (std)
      # MAE-DFER's timm RandAugment: 15 ops, per-frame statistics, fill 128
      # (audfer_jax/data/augment.py); False: 13 ops, clip statistics, mean fill.
      randaugment_upstream=False,
      random_erasing=0.0,  # probability
      mixup=0.0,  # alpha; 0 disables
      cutmix=0.0,  # alpha; 0 disables
      mixup_switch_prob=0.5,  # cutmix instead of mixup, when both
      # The augmentation above runs on the devices, jitted on the global
      # batch (audfer_jax/data/device_augment.py); the host only decodes,
      # samples and resizes frames to `device_frame_size` (-1: the clip's
      # size; MAE-DFER's resize_first: always the clip's size), as uint8.
      # True, False or 'auto': on the devices where JAX's default backend
      # is a GPU or TPU, on the host on a CPU (resolved per run and logged).
      on_device=ml_collections.FieldReference(False, field_type=object),
      device_frame_size=-1,
    )
  )

  # Model: a classifier of `audfer_jax.models.names("classify")`, or a
  # pre-training model of `names("pretrain")` (configs/pretrain_mae_dfer.py);
  # overrides go to `models.create`.
  config.model = 'm3dfel'
  config.model_overrides = ml_collections.ConfigDict()  # kwargs
  # Compute dtype: 'auto' (bfloat16 on GPUs/TPUs, float32 on CPUs),
  # 'float32' or 'bfloat16'. Parameters, optimizer state, losses and metrics
  # stay float32.
  config.dtype = 'auto'
  # Initial weights: '' or 'none' (fresh), 'kinetics400' (torchvision's
  # Kinetics-400 r3d_18 in the R3D-18 trunk, converted once by `python -m
  # audfer_jax.convert kinetics400`), a converted PyTorch checkpoint
  # (audfer_jax.convert), or a run of this project (a workdir, its best/, or
  # one step of it).
  config.init_from = ''

  # AU-DFER method.
  # K: 'paper', 'dfew_v1', 'ferv_upstream', 'uniform' or a JSON file.
  config.knowledge = 'paper'
  config.pos_weight = 'global'  # 'global', 'distinct' or 'minor'
  # '' computes pos_weight from the training split; a name uses the upstream
  # constant table (`audfer_jax.method.pos_weight.pos_weight_preset`).
  config.pos_weight_preset = ''
  config.au_lambda = 0.25  # 0 gives the plain baseline
  config.label_smoothing = 0.0  # of the expression targets

  # Optimisation.
  config.batch_size = 64  # global
  config.eval_batch_size = 64  # global
  config.num_epochs = 100  # passes over the training split
  config.num_train_steps = -1  # -1: num_epochs * steps per epoch
  config.optimizer = 'adamw'  # 'adamw' or 'sgd'
  config.learning_rate = 5e-4  # peak
  config.lr_batch_scale = False  # MAE-DFER: lr * batch_size / 256
  config.weight_decay = 0.05  # decoupled (AdamW) or L2 (SGD)
  config.wd_exclude_1d = False  # no decay for biases, norms, tokens
  # Which tokens wd_exclude_1d exempts too: 'tokens' (every position
  # embedding and token parameter, at any depth) or 'mae_dfer_upstream'
  # (only the top-level names of MAE-DFER's `no_weight_decay()`, as its
  # optim_factory.py compares them: the pre-training encoder's region
  # tokens are decayed; audfer_jax/training/optim.py).
  config.wd_exempt = 'tokens'
  config.betas = (0.9, 0.999)  # AdamW
  config.eps = 1e-8  # AdamW
  config.momentum = 0.9  # SGD
  config.schedule = 'cosine'  # 'cosine' or 'step'
  config.warmup_epochs = 0.0  # linear warmup from warmup_lr
  config.warmup_lr = 0.0  # the warmup's first lr
  config.min_lr = 0.0  # the cosine's end
  # timm CosineLRScheduler's default warmup_prefix=False evaluates the cosine
  # at the absolute step (M3DFEL); True starts it after the warmup (MAE-DFER).
  config.warmup_prefix = True
  config.step_epochs = 40  # 'step': epochs between lr decays
  config.step_gamma = 0.1  # 'step': lr factor at each decay
  config.layer_decay = 0.0  # 0 disables layer-wise lr decay (MAE-DFER 0.75)
  config.grad_clip_norm = 0.0  # 0 disables

  # Sharding mode of the 1-D data mesh. 'auto': the models reshape clips
  # [B, T, ...] -> [B * n, T / n, ...] (M3DFEL instances, Former-DFER
  # frames), which Explicit mode rejects ("This reshape is not supported.
  # Please specify the sharding of the output") unless every model annotates
  # `out_sharding`; in Auto mode the compiler picks it.
  config.mesh_axis_type = 'auto'
  # The step updates the model and optimizer state in place (no second copy
  # in device memory); False keeps the old state alive, for debugging.
  config.donate = True
  # XLA flag preset (audfer_jax/process/xla_flags.py), set before JAX starts: ''
  # reads AUDFER_XLA_PRESET, else 'default' (oneDNN for convolutions and
  # matmuls on CPUs, nothing on GPUs); 'none' keeps XLA's own CPU code, whose
  # compiled programs the compilation cache keeps for the next run (XLA:CPU
  # cannot save a program that calls oneDNN).
  config.xla_preset = ''

  # Logging, evaluation and checkpoints.
  config.log_every_steps = 50
  # Pre-training: steps between two TensorBoard pictures of reconstructions
  # (and one at the end); 0: none.
  config.image_every_steps = 1000
  config.eval_every_epochs = 1  # on the test split
  config.checkpoint_every_steps = 500  # and at the end or on SIGTERM
  config.keep_checkpoints = 2  # latest ones kept (best/ keeps its own)
  # The epoch the paper's table reports (results.json 'reported'): 'final'
  # (the last evaluation) or 'best' (best WAR + UAR on the test split, which
  # selects on the test data). results.json keeps both either way.
  config.reported_epoch = 'final'
  # Fraction of the training split held out (by video, stratified by class,
  # seeded by `seed`) as a validation set, evaluated with the test split; its
  # best WAR + UAR selects results.json's 'best_val'. 0: none.
  config.validation_fraction = 0.0
  return config


# What `python run.py --config_help` prints for each field of
# `get_base_config`, one line a field (tests/test_cli.py checks that every
# field has one). The comments above the fields may say more.
FIELD_MEANINGS = {
  'seed': 'seed of the initial weights, data order and dropout',
  # Data.
  'dataset': "a TFDS name ('builder' or 'builder/config')",
  'train_split': (
    "TFDS split to train on; 'fold' (both splits): the training sets of "
    "fold `fold` of DFEW's or MAFW's 5 folds"
  ),
  'test_split': (
    "TFDS split evaluated every eval_every_epochs; 'fold' (both splits): "
    'the test set of fold `fold`'
  ),
  'fold': "1..5, when both splits are 'fold'",
  'data_dir': 'where TFDS datasets are prepared and read (TFDS_DATA_DIR if set)',
  'manual_dir': (
    "where the raw files are (DFEW, ..., or a video_folder's videos); a run "
    'prepares `dataset` from them when it is not prepared yet'
  ),
  'shuffle_buffer_size': 'clips tf.data shuffles among',
  'prefetch': 'host batches tf.data prepares ahead',
  'device_prefetch': (
    'global batches whose host-to-device copies run ahead of the step '
    '(GPUs: the copy of the next batches overlaps the current step); 0: none'
  ),
  # Temporal sampling.
  'sampling': (
    'temporal sampling at training and test (audfer_jax/data/video_sampling.py): '
    "the published code's 'm3dfel_upstream', 'mae_dfer_upstream', "
    "'former_dfer_upstream', 'all_frames', or the clean 'segments' (TSN "
    "over the whole clip) and 'window' (T frames in a random window)"
  ),
  'num_frames': "frames per clip; -1: the model's input length",
  'frames_per_segment': 'consecutive frames per TSN segment',
  'sampling_rate': 'windows: frames between two sampled ones',
  'eval_views': (
    "evaluation views of the windows: 1, or 2 temporal clips (MAE-DFER's "
    'start and end clips) whose softmax probabilities are averaged'
  ),
  # Spatial processing.
  'image_size': "frame side in pixels; -1: take it from the model's input shape",
  'center_crop': (
    'Central fraction of each side kept before any other spatial op (1: all)'
  ),
  'normalize': "'unit' (/255) or 'imagenet' (mean/std)",
  'eval_resize': "'square' or 'short_side_crop'",
  'augment.resize_first': 'MAE-DFER: resize frames to square first',
  'augment.crop': (
    "the training crop: 'random_resized' (crop_area, crop_aspect) or "
    "MAE-DFER's pre-training 'group_multiscale' (transforms.py "
    '`GroupMultiScaleCrop`: crop_scales, 13 fixed offsets, PIL bilinear; '
    'host only, not on_device)'
  ),
  'augment.crop_area': 'random resized crop: area fraction range',
  'augment.crop_aspect': 'random resized crop: aspect ratio range',
  'augment.crop_scales': (
    'group_multiscale: crop sides as fractions of the short side, height '
    'and width at most one step apart'
  ),
  'augment.flip': 'random horizontal flip',
  'augment.color_jitter': 'brightness = contrast = saturation = hue range',
  'augment.randaugment_n': 'RandAugment ops per frame; 0 disables RandAugment',
  'augment.randaugment_m': 'RandAugment magnitude',
  'augment.randaugment_mstd': 'RandAugment magnitude noise (std)',
  'augment.randaugment_upstream': (
    "MAE-DFER's timm RandAugment: 15 ops, per-frame statistics, fill 128 "
    '(audfer_jax/data/augment.py); False: 13 ops, clip statistics, mean fill'
  ),
  'augment.random_erasing': 'random erasing probability',
  'augment.mixup': 'mixup alpha; 0 disables',
  'augment.cutmix': 'cutmix alpha; 0 disables',
  'augment.mixup_switch_prob': 'cutmix instead of mixup, when both',
  'augment.on_device': (
    'True: the augmentation runs on the devices, jitted on the global batch '
    '(audfer_jax/data/device_augment.py), the host only decodes, samples '
    'and resizes frames (uint8); False: all of it in tf.data on the host; '
    "'auto': on the devices on a GPU or TPU backend, on the host on a CPU"
  ),
  'augment.device_frame_size': (
    "on_device: the host's frame side (-1: the clip's size; always it "
    'with resize_first)'
  ),
  # Model.
  'model': (
    'a classifier of `audfer_jax.models.names("classify")`, or a '
    'pre-training model of `names("pretrain")`'
  ),
  'model_overrides': 'keyword arguments to `models.create`',
  'dtype': (
    "compute dtype: 'auto' (bfloat16 on GPUs/TPUs, float32 on CPUs), "
    "'float32' or 'bfloat16'"
  ),
  'init_from': (
    "initial weights: '' or 'none' (fresh), 'kinetics400' (torchvision's "
    'Kinetics-400 r3d_18 in the R3D-18 trunk, converted once by `python -m '
    'audfer_jax.convert kinetics400`), a converted PyTorch checkpoint '
    '(audfer_jax.convert), or a run of this project (a workdir, its best/, '
    'or one step of it)'
  ),
  # AU-DFER method.
  'knowledge': "K: 'paper', 'dfew_v1', 'ferv_upstream', 'uniform' or a JSON file",
  'pos_weight': "AU loss pos_weight: 'global', 'distinct' or 'minor'",
  'pos_weight_preset': (
    "'' computes pos_weight from the training split; a name uses the "
    'upstream constant table '
    '(`audfer_jax.method.pos_weight.pos_weight_preset`)'
  ),
  'au_lambda': 'weight of the AU loss; 0 gives the plain baseline',
  'label_smoothing': 'label smoothing of the expression targets',
  # Optimisation.
  'batch_size': 'global training batch (all devices)',
  'eval_batch_size': 'global evaluation batch (all devices)',
  'num_epochs': 'passes over the training split',
  'num_train_steps': '-1: num_epochs * steps per epoch',
  'optimizer': "'adamw' or 'sgd'",
  'learning_rate': 'peak learning rate',
  'lr_batch_scale': 'MAE-DFER: lr * batch_size / 256',
  'weight_decay': 'decoupled (AdamW) or L2 (SGD)',
  'wd_exclude_1d': 'no decay for biases, norms, tokens',
  'wd_exempt': (
    "the tokens wd_exclude_1d exempts: 'tokens' (every position embedding "
    "and token, at any depth) or 'mae_dfer_upstream' (only top-level names "
    "of MAE-DFER's no_weight_decay(), as its optim_factory.py: the "
    "pre-training encoder's region tokens are decayed)"
  ),
  'betas': 'AdamW betas',
  'eps': 'AdamW epsilon',
  'momentum': 'SGD momentum',
  'schedule': "'cosine' or 'step'",
  'warmup_epochs': 'epochs of linear warmup from warmup_lr',
  'warmup_lr': "the warmup's first lr",
  'min_lr': "the cosine's end",
  'warmup_prefix': (
    "timm CosineLRScheduler's default warmup_prefix=False evaluates the "
    'cosine at the absolute step (M3DFEL); True starts it after the warmup '
    '(MAE-DFER)'
  ),
  'step_epochs': "'step': epochs between lr decays",
  'step_gamma': "'step': lr factor at each decay",
  'layer_decay': '0 disables layer-wise lr decay (MAE-DFER 0.75)',
  'grad_clip_norm': 'global gradient norm clip; 0 disables',
  # Devices and XLA.
  'mesh_axis_type': (
    "sharding mode of the 1-D data mesh: 'auto' (the compiler picks the "
    "models' reshapes' shardings) or 'explicit'"
  ),
  'donate': (
    'the step updates the model and optimizer state in place (no second '
    'copy in device memory); False keeps the old state alive, for debugging'
  ),
  'xla_preset': (
    "XLA flag preset (audfer_jax/process/xla_flags.py), set before JAX starts: '' "
    "reads AUDFER_XLA_PRESET, else 'default' (oneDNN for convolutions and "
    "matmuls on CPUs, nothing on GPUs); 'none' keeps XLA's own CPU code, "
    'whose compiled programs the compilation cache keeps for the next run '
    '(XLA:CPU cannot save a program that calls oneDNN)'
  ),
  # Logging, evaluation and checkpoints.
  'log_every_steps': 'steps between two training logs and summaries',
  'image_every_steps': (
    'pre-training: steps between two TensorBoard pictures of masked input, '
    'reconstruction and target (and one at the end); 0: none'
  ),
  'eval_every_epochs': 'epochs between two evaluations on the test split',
  'checkpoint_every_steps': (
    'steps between two checkpoints (and one at the end or on SIGTERM)'
  ),
  'keep_checkpoints': 'latest checkpoints kept (best/ keeps its own)',
  'reported_epoch': (
    "the epoch the paper's table reports: 'final' (last evaluation) or "
    "'best' (best WAR + UAR on the test split: selected on test data); "
    "results.json keeps both and names this one under 'reported'"
  ),
  'validation_fraction': (
    'fraction of the training split held out (by video, stratified by '
    'class, seeded) as a validation set; its best WAR + UAR picks '
    "results.json's 'best_val' (test metrics at that epoch); 0: none"
  ),
}


def set_dataset(config, dataset):
  """Points `config` at a TFDS dataset ('builder' or 'builder/config').

  The datasets with folds (DFEW, MAFW: `audfer_jax.data.folds`) select their
  splits by `config.fold` (both splits 'fold'), the others train on 'train'
  and test on 'test'.
  """
  config.dataset = dataset
  if folds.num_folds(dataset):
    folds.set_fold(config)
  else:
    config.train_split, config.test_split = 'train', 'test'


def set_mafw7(config):
  """MAFW's 7 basic classes, with the AU loss.

  The knowledge presets have rows for these classes only (11 classes:
  `set_mafw11_baseline`). AU-DFER ran no MAFW, so there is no authors' K or
  pos_weight: the paper's K (Figure 4) and pos_weight from the training
  split.
  """
  set_dataset(config, 'mafw/7_classes')
  config.knowledge = 'paper'
  config.pos_weight_preset = ''


def set_mafw11_baseline(config):
  """MAFW's 11 classes (MAE-DFER's MAFW protocol) without the AU loss.

  K's presets have no rows for contempt, anxiety, helplessness and
  disappointment, so an 11-class run is the baseline: au_lambda 0, where K
  enters no loss (`uniform` only gives every class a row). For the AU loss
  on 11 classes, extract K from MAFW's training folds (`python -m
  audfer_jax.method`) and pass `--config.knowledge=K.json
  --config.au_lambda=0.25`.
  """
  set_dataset(config, 'mafw/11_classes')
  config.knowledge = 'uniform'
  config.au_lambda = 0.0


def set_m3dfel(config):
  """M3DFEL (AU-DFER's M3DFEL_AU recipe): 16 frames, AdamW, cosine."""
  config.model = 'm3dfel'
  # The trunk starts from Kinetics-400, as upstream `models/M3DFEL.py`:
  # `r3d_18(weights=R3D_18_Weights.DEFAULT)`.
  config.init_from = 'kinetics400'
  # M3DFEL_AU/datasets/dataset_DFEW_AU_weighted.py `__getitem__`.
  config.sampling = 'm3dfel_upstream'  # clean: 'segments'
  config.frames_per_segment = 1  # 'segments': 16 segments x 1 frame
  config.normalize = 'unit'
  config.augment.color_jitter = 0.4
  # On a GPU or TPU the crop, flip and colour jitter run on the device
  # (on a CPU, the host): the host's clip costs 3-4x less, the device's
  # 5-8 % of the H200 step at 40 % MFU (benchmarks/README.md, "Feeding a
  # GPU"). The host hands over 224-px frames, the side of DFEW's and
  # FERV39k's, so that small crops keep the detail they have on the host.
  config.augment.on_device = 'auto'
  config.augment.device_frame_size = 224
  config.label_smoothing = 0.1
  config.batch_size = config.eval_batch_size = 64
  config.num_epochs = 100
  config.optimizer = 'adamw'
  config.learning_rate = 5e-4
  config.weight_decay = 0.05
  config.schedule = 'cosine'
  config.warmup_epochs = 20
  config.warmup_lr = 0.0
  config.min_lr = 5e-6
  config.warmup_prefix = False
  # AU-DFER's M3DFEL_AU/solver_with_AU_weighted.py `Solver.run` keeps the
  # epoch with the best WAR + UAR on the test set (TFace's solver.py keeps
  # the best WAR and the best UAR, each from its own epoch).
  config.reported_epoch = 'best'


def set_former_dfer(config):
  """Former-DFER: 8 segments x 2 frames, SGD, step decay."""
  config.model = 'former_dfer'
  # Former-DFER's dataloader (and AU-DFER's for FERV39k); the AU-DFER DFEW
  # runs read all 16 frames instead (configs/dfew_former.py).
  config.sampling = 'former_dfer_upstream'  # clean: 'segments'
  config.frames_per_segment = 2  # 8 segments x 2 frames
  config.normalize = 'unit'
  # On a GPU or TPU the augmentation runs on the device (on a CPU, the
  # host), from 224-px frames as set_m3dfel: the run is input-bound either
  # way (50-90 host cores per H200), and the device path costs the host
  # 1.2-1.4x less per clip (benchmarks/README.md, "Feeding a GPU").
  config.augment.on_device = 'auto'
  config.augment.device_frame_size = 224
  config.label_smoothing = 0.0
  config.batch_size = config.eval_batch_size = 32
  config.num_epochs = 100
  config.optimizer = 'sgd'
  config.learning_rate = 0.01
  config.momentum = 0.9
  config.weight_decay = 1e-4
  config.schedule = 'step'
  config.step_epochs = 40
  config.step_gamma = 0.1
  # AU-DFER's Former-DFER_AU/main_DFEW.py and main_FERV39K.py `main`: the
  # epoch with the best WAR + UAR on the test set.
  config.reported_epoch = 'best'


def set_mae_dfer(config, sampling_rate, batch_size):
  """MAE-DFER: a 16-frame window, AdamW with layer decay, mixup/cutmix.

  The reference scripts sample at rate 4 with batch 32 on DFEW and MAFW,
  at rate 1 with batch 40 on FERV39k.
  """
  config.model = 'mae_dfer'
  config.model_overrides.drop_path_rate = 0.1
  # MAE-DFER's kinetics.py `VideoClsDatasetFrame` (also MAE-DFER_AU's).
  config.sampling = 'mae_dfer_upstream'  # clean: 'window'
  config.sampling_rate = sampling_rate
  config.eval_views = 2
  config.normalize = 'imagenet'
  # kinetics.py `VideoClsDatasetFrame` resizes test frames to a square;
  # its crops then cover the whole frame.
  config.eval_resize = 'square'
  config.augment.resize_first = True
  config.augment.randaugment_n = 4
  config.augment.randaugment_m = 7
  # timm `rand_augment.py` as MAE-DFER's video_transforms.py calls it.
  config.augment.randaugment_upstream = True
  config.augment.random_erasing = 0.25
  config.augment.mixup = 0.8
  config.augment.cutmix = 1.0
  # On a GPU or TPU all of the above runs on the device (on a CPU, the
  # host): the host then needs ~20x fewer cores per clip (10-12 per H200
  # instead of ~200), for an estimated third of the step's device time
  # (benchmarks/README.md, "Feeding a GPU").
  config.augment.on_device = 'auto'
  config.label_smoothing = 0.1
  config.batch_size = config.eval_batch_size = batch_size
  config.num_epochs = 100
  config.optimizer = 'adamw'
  config.learning_rate = 1e-3
  config.lr_batch_scale = True
  config.weight_decay = 0.05
  config.wd_exclude_1d = True
  config.schedule = 'cosine'
  config.warmup_epochs = 5
  config.warmup_lr = 1e-6
  config.min_lr = 1e-6
  config.warmup_prefix = True
  config.layer_decay = 0.75
  # The model after the last epoch: MAE-DFER's run_class_finetuning.py
  # `main` tests it (`final_test`, `merge`) and reports it; AU-DFER's
  # MAE-DFER_AU scripts run that `main` (its AU version is not published;
  # its engine_for_finetuning.py keeps `final_test` and `merge` as they
  # are), docs/recipes.md "reported epoch".
  config.reported_epoch = 'final'
