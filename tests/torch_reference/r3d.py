"""torchvision-style r3d_18 in PyTorch (keys stem.*, layerK.*, fc.*)."""

from torch import nn


def _conv_bn(cin, cout, stride, relu):
  layers = [
    nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False),
    nn.BatchNorm3d(cout),
  ]
  return nn.Sequential(*layers, *([nn.ReLU()] if relu else []))


class Block(nn.Module):
  """BasicBlock with Conv3DSimple convs."""

  def __init__(self, cin, cout, stride):
    super().__init__()
    self.conv1 = _conv_bn(cin, cout, stride, relu=True)
    self.conv2 = _conv_bn(cout, cout, 1, relu=False)
    self.downsample = None
    if stride != 1 or cin != cout:
      self.downsample = nn.Sequential(
        nn.Conv3d(cin, cout, 1, stride=stride, bias=False),
        nn.BatchNorm3d(cout),
      )

  def forward(self, x):
    shortcut = x if self.downsample is None else self.downsample(x)
    return (self.conv2(self.conv1(x)) + shortcut).relu()


class R3D18(nn.Module):
  """Input (B, 3, T, H, W)."""

  def __init__(self, num_classes=400, widths=(64, 128, 256, 512)):
    super().__init__()
    self.stem = nn.Sequential(
      nn.Conv3d(
        3, widths[0], (3, 7, 7), (1, 2, 2), padding=(1, 3, 3), bias=False
      ),
      nn.BatchNorm3d(widths[0]),
      nn.ReLU(),
    )
    cin = widths[0]
    for i, w in enumerate(widths):
      stride = 1 if i == 0 else 2
      setattr(
        self,
        f'layer{i + 1}',
        nn.Sequential(Block(cin, w, stride), Block(w, w, 1)),
      )
      cin = w
    self.avgpool = nn.AdaptiveAvgPool3d(1)
    self.fc = nn.Linear(widths[-1], num_classes)

  def forward(self, x, return_feature=False):
    x = self.stem(x)
    for i in range(1, 5):
      x = getattr(self, f'layer{i}')(x)
    feature = self.avgpool(x).flatten(1)
    logits = self.fc(feature)
    return (logits, feature) if return_feature else logits
