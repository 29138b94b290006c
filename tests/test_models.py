from __future__ import annotations

from dataclasses import asdict

import pytest

from songprep import models
from songprep.errors import ModelNotFoundError, UsageError


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGPREP_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("SONGPREP_OFFLINE", "1")
    return tmp_path / "models"


def save_random_whisper(path):
    """A randomly initialised Whisper of the real architecture, saved in openai-whisper's checkpoint format."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=1,
                           n_vocab=51865, n_text_ctx=448, n_text_state=64, n_text_head=2, n_text_layer=1)
    torch.manual_seed(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": asdict(dims), "model_state_dict": Whisper(dims).state_dict()}, path)


def test_missing_model_is_one_line_with_where_and_how(model_dir):
    with pytest.raises(ModelNotFoundError) as err:
        models.load("whisper:base")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("whisper:base not found (looked in ")
    assert str(model_dir / "whisper" / "base.pt") in message and "songprep models fetch whisper:base" in message


def test_missing_demucs_names_its_weight_files(model_dir):
    with pytest.raises(ModelNotFoundError, match=r"demucs:htdemucs not found .*955717e8"):
        models.locate("demucs:htdemucs")


def test_unknown_names_are_usage_errors(model_dir):
    with pytest.raises(UsageError, match="unknown model family"):
        models.resolve("nosuch:model")
    with pytest.raises(UsageError, match="unknown whisper model"):
        models.resolve("whisper:gigantic")


def test_whisper_loads_from_the_songprep_cache(model_dir):
    save_random_whisper(model_dir / "whisper" / "tiny.pt")
    assert models.locate("whisper:tiny") == model_dir / "whisper" / "tiny.pt"
    model = models.load("whisper:tiny", device="cpu")
    assert type(model).__name__ == "Whisper" and model.dims.n_audio_state == 64
    status = {s.name: s for s in models.list_models()}
    assert status["whisper:tiny"].available and not status["whisper:base"].available


def test_explicit_local_path_wins_and_must_be_complete(model_dir, tmp_path):
    ckpt = tmp_path / "elsewhere" / "my-whisper.pt"
    save_random_whisper(ckpt)
    assert models.load("whisper:small", local_path=ckpt).dims.n_text_layer == 1
    with pytest.raises(ModelNotFoundError, match="no complete model at"):
        models.locate("whisper:small", local_path=tmp_path / "absent.pt")
