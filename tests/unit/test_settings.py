"""The models directory comes from one setting."""
from __future__ import annotations

from kinlatent.settings import MODELS_DIR_ENV, model_file, models_dir


def test_env_variable_overrides(monkeypatch, tmp_path):
    (tmp_path / "m.yml").write_text("x: 1\n")
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path))
    assert models_dir() == tmp_path.resolve()
    assert model_file("m") == tmp_path / "m.yml"


def test_default_is_shared_beside_checkout(monkeypatch):
    monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
    assert models_dir().parts[-2:] == ("shared", "models")
