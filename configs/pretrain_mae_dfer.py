"""MAE-DFER's self-supervised pre-training (LGI-Former masked autoencoder).

  python run.py --config configs/pretrain_mae_dfer.py --workdir runs/pretrain \
    --config.data_dir=~/tensorflow_datasets/voxceleb2

The authors' VoxCeleb2 recipe: sunlicai/MAE-DFER
`scripts/voxceleb2/pretrain_local_global_attn_depth16_region_size2510_with_diff_target_102.sh`
and the defaults of `run_mae_pretraining.py` it leaves alone. The data is
any prepared TFDS video dataset, its labels ignored: by default a folder of
face videos prepared as `video_folder/unlabelled` (README "Your own
videos"); `--config.dataset=dfew` or `au_faces` work as well. Fine-tune
from the run with `--config.init_from=runs/pretrain` (README "MAE-DFER
pre-training").
"""

from configs import common


def get_config():
  config = common.get_base_config()
  common.set_dataset(config, 'video_folder/unlabelled')

  # The model of the script: `--model pretrain_videomae_base_dim512_no_depth
  # _patch16_160 --encoder_depth 16 --decoder_depth 4 --attn_type
  # local_global --lg_region_size 2 5 10 --mask_type part_window
  # --part_win_size 2 5 10 --mask_ratio 0.9 --use_frame_diff_as_target`:
  # the defaults of `mae_dfer_pretrain` (audfer_jax/models/mae_pretrain.py).
  config.model = 'mae_dfer_pretrain'

  # Data: `--num_frames 16 --sampling_rate 4 --input_size 160` (the model's
  # 16 x 160 x 160 input). kinetics.py `VideoMAE._sample_train_indices`: 16
  # frames 4 apart at a random offset; a shorter clip repeats frames.
  config.sampling = 'mae_dfer_upstream'
  config.sampling_rate = 4
  # datasets.py `DataAugmentationForVideoMAE`: transforms.py
  # `GroupMultiScaleCrop(160, [1, .875, .75, .66])` (max_distort 1,
  # fix_crop, more_fix_crop): height and width each int(short side x one
  # of the scales), at most one scale apart, at one of 13 fixed offsets,
  # the same window in every frame, resized to 160 by PIL's bilinear filter
  # (audfer_jax/data/augment.py `multiscale_crop_window`); no flip, then
  # ImageNet's mean/std. The clean variant, --config.augment.crop=
  # random_resized, is a random resized crop at any offset of the same
  # area and aspect ranges (the scales' products span 0.66^2..1 of a
  # square frame, their ratios 0.75/0.875..0.875/0.75), resized bilinearly.
  config.normalize = 'imagenet'
  config.augment.resize_first = False
  config.augment.crop = 'group_multiscale'
  config.augment.crop_scales = (1.0, 0.875, 0.75, 0.66)
  config.augment.crop_area = (0.66**2, 1.0)  # random_resized only
  config.augment.crop_aspect = (0.75 / 0.875, 0.875 / 0.75)  # likewise
  config.augment.flip = False
  config.augment.color_jitter = 0.0
  config.augment.randaugment_n = 0
  config.augment.random_erasing = 0.0
  config.augment.mixup = config.augment.cutmix = 0.0  # no labels

  # Optimisation: `--opt adamw --opt_betas 0.9 0.95 --lr 3e-4
  # --warmup_epochs 5 --epochs 100 --batch_size 32` per GPU; the script
  # launches 2 processes (`--nproc_per_node=2`), a global batch of 64.
  # run_mae_pretraining.py `main` scales lr, min_lr and warmup_lr by the
  # global batch / 256 (`lr_batch_scale`; optim.create_schedule scales the
  # other two with it) and steps utils.py `cosine_scheduler` per step:
  # linear warmup from warmup_lr, then a cosine to min_lr.
  config.batch_size = config.eval_batch_size = 64
  config.num_epochs = 100
  config.optimizer = 'adamw'
  config.betas = (0.9, 0.95)
  config.eps = 1e-8  # --opt_eps default
  config.learning_rate = 3e-4
  config.lr_batch_scale = True
  config.schedule = 'cosine'
  config.warmup_epochs = 5
  config.warmup_lr = 1e-6  # --warmup_lr default
  config.min_lr = 1e-5  # --min_lr default
  config.warmup_prefix = True
  # --weight_decay 0.05 (default), constant (--weight_decay_end None).
  # optim_factory.py `create_optimizer` -> `get_parameter_groups` exempts
  # 1-D parameters, names ending in '.bias' and the names of
  # modeling_pretrain.py `PretrainVisionTransformer.no_weight_decay()`
  # ({'pos_embed', 'cls_token', 'mask_token', 'lg_region_tokens'}) compared
  # with full names: only the top-level `mask_token` matches (pos_embed is
  # a fixed table, not a parameter; there is no cls token), and the
  # encoder's `encoder.lg_region_tokens` is decayed. 'mae_dfer_upstream'
  # does the same; the clean variant, --config.wd_exempt=tokens, spares
  # every token parameter (the region tokens too, as the fine-tuning model's
  # top-level `lg_region_tokens` is spared upstream).
  config.weight_decay = 0.05
  config.wd_exclude_1d = True
  config.wd_exempt = 'mae_dfer_upstream'
  config.layer_decay = 0.0
  config.grad_clip_norm = 0.0  # --clip_grad None

  # Nothing of the classification recipe applies (no labels): K,
  # pos_weight, the AU loss and the evaluation are left out.
  config.log_every_steps = 50
  config.image_every_steps = 1000
  config.checkpoint_every_steps = 1000
  return config
