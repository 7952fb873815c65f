"""Compact PyTorch definitions of R3D-18, M3DFEL and Former-DFER, written
after torchvision's r3d_18, Tencent/TFace attribute/M3DFEL and
zengqunzhao/Former-DFER (docs/reference.md), for the parity tests.

Module names reproduce the reference state-dict keys. Every model's
`forward(x, return_feature=True)` also returns the pooled feature so that
tests can apply the AU head (which the reference models do not have).
"""
