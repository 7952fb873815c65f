"""ResNet pieces shared by R3D-18 (3-D), M3DFEL and Former-DFER (2-D).

`BasicBlock` and `ResNetStages` work for 2-D (NHWC) and 3-D (NTHWC) inputs;
the kernel rank follows `ndim`. Inits follow torchvision: kaiming-normal
(fan_out, relu) convs, BatchNorm scale 1 / bias 0. `torch_linear` is a
Linear layer with PyTorch's default init, for the layers whose reference
code keeps it.
"""

from flax import nnx
import jax
import jax.numpy as jnp

from audfer_jax.models import conv_grads

# torchvision's kaiming_normal_(mode='fan_out', nonlinearity='relu').
_conv_init = nnx.initializers.variance_scaling(2.0, 'fan_out', 'normal')


def conv(cin, cout, kernel, stride, padding, *, dtype, rngs):
  """Bias-free conv with explicit symmetric padding (never 'SAME')."""
  return nnx.Conv(
    cin,
    cout,
    kernel_size=tuple(kernel),
    strides=tuple(stride),
    padding=tuple((p, p) for p in padding),
    use_bias=False,
    kernel_init=_conv_init,
    # Same results as lax's; gradients that avoid XLA:CPU's slow paths.
    conv_general_dilated=conv_grads.conv_general_dilated,
    dtype=dtype,
    param_dtype=jnp.float32,
    rngs=rngs,
  )


class TorchBatchNorm(nnx.BatchNorm):
  """`nnx.BatchNorm` whose running variance can follow PyTorch's.

  PyTorch's BatchNorm updates `running_var` with the unbiased batch variance
  (n / (n - 1) times the biased one, n the elements per channel), Flax's
  with the biased one; normalisation uses the biased one in both. With
  `unbiased_running_var`, fine-tuning a converted model keeps the running
  statistics the original code would have.
  """

  def __init__(self, *args, unbiased_running_var=True, **kwargs):
    super().__init__(*args, **kwargs)
    self.unbiased_running_var = unbiased_running_var

  def __call__(self, x, use_running_average=None, *, mask=None):
    previous = self.var[...]
    y = super().__call__(x, use_running_average, mask=mask)
    if use_running_average is None:
      use_running_average = self.use_running_average
    if self.unbiased_running_var and not use_running_average:
      if mask is not None:
        raise NotImplementedError('unbiased_running_var with a mask')
      n = x.size // x.shape[-1]
      # The update added (1 - momentum) * biased variance to this.
      decayed = self.momentum * previous
      self.var[...] = decayed + (self.var[...] - decayed) * (n / (n - 1))
    return y


def batch_norm(channels, *, dtype, rngs, unbiased_running_var=True):
  """BatchNorm with PyTorch's defaults (momentum 0.1 = Flax 0.9) and, by
  default, its running-variance update (`TorchBatchNorm`)."""
  return TorchBatchNorm(
    channels,
    momentum=0.9,
    epsilon=1e-5,
    dtype=dtype,
    param_dtype=jnp.float32,
    unbiased_running_var=unbiased_running_var,
    rngs=rngs,
  )


def torch_uniform(fan_in):
  """PyTorch's default weight/bias init: U(+-1/sqrt(fan_in))."""
  bound = fan_in**-0.5

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


def torch_linear(din, dout, *, dtype, rngs, use_bias=True, fan_in=None):
  """Linear with PyTorch's default init: U(+-1/sqrt(fan_in)) weight and bias.

  `fan_in` defaults to `din` (nn.LSTM uses the hidden size for all).
  """
  init = torch_uniform(fan_in or din)
  return nnx.Linear(
    din,
    dout,
    use_bias=use_bias,
    kernel_init=init,
    bias_init=init,
    dtype=dtype,
    param_dtype=jnp.float32,
    rngs=rngs,
  )


class BasicBlock(nnx.Module):
  """Two 3x3(x3) conv+BN layers with a residual; 1x1 conv+BN shortcut when
  the shape changes."""

  def __init__(self, cin, cout, stride, ndim, *, dtype, rngs):
    k3, s = (3,) * ndim, (stride,) * ndim
    self.conv1 = conv(cin, cout, k3, s, (1,) * ndim, dtype=dtype, rngs=rngs)
    self.bn1 = batch_norm(cout, dtype=dtype, rngs=rngs)
    self.conv2 = conv(
      cout, cout, k3, (1,) * ndim, (1,) * ndim, dtype=dtype, rngs=rngs
    )
    self.bn2 = batch_norm(cout, dtype=dtype, rngs=rngs)
    if stride != 1 or cin != cout:
      self.down_conv = conv(
        cin, cout, (1,) * ndim, s, (0,) * ndim, dtype=dtype, rngs=rngs
      )
      self.down_bn = batch_norm(cout, dtype=dtype, rngs=rngs)
    else:
      self.down_conv = self.down_bn = None

  def __call__(self, x):
    y = nnx.relu(self.bn1(self.conv1(x)))
    y = self.bn2(self.conv2(y))
    if self.down_conv is not None:
      x = self.down_bn(self.down_conv(x))
    return nnx.relu(y + x)


class ResNetStage(nnx.Module):
  """`num_blocks` BasicBlocks; the first one carries the stride."""

  def __init__(self, cin, cout, stride, num_blocks, ndim, *, dtype, rngs):
    self.blocks = nnx.List(
      [
        BasicBlock(
          cin if i == 0 else cout,
          cout,
          stride if i == 0 else 1,
          ndim,
          dtype=dtype,
          rngs=rngs,
        )
        for i in range(num_blocks)
      ]
    )

  def __call__(self, x):
    for block in self.blocks:
      x = block(x)
    return x


def resnet_stages(cin, widths, num_blocks, ndim, *, dtype, rngs):
  """ResNet-18-style stages: stride 1 for the first, 2 for the others."""
  stages = []
  for i, (cout, n) in enumerate(zip(widths, num_blocks, strict=True)):
    stride = 1 if i == 0 else 2
    stages.append(
      ResNetStage(cin, cout, stride, n, ndim, dtype=dtype, rngs=rngs)
    )
    cin = cout
  return nnx.List(stages)
