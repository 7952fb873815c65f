"""Compact PyTorch definitions of R3D-18, M3DFEL and Former-DFER, written
from the specs in design/reference_models.md, for the parity tests.

Module names reproduce the reference state-dict keys. Every model's
`forward(x, return_feature=True)` also returns the pooled feature so that
tests can apply the AU head (which the reference models do not have).
"""
