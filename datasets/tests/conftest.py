"""Fixtures shared by the builders' tests."""

import os

import pytest


@pytest.fixture
def fake_openface(tmp_path, monkeypatch):
  """A fake FeatureExtraction first on PATH; returns its call log."""
  # Imported here: the module and this fixture share a name.
  import fake_openface as fake

  bin_dir, log = tmp_path / 'bin', tmp_path / 'calls.log'
  fake.install(bin_dir, log)
  monkeypatch.setenv('PATH', f'{bin_dir}:{os.environ["PATH"]}')
  return log
