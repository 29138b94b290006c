"""The other aligners: pocketsphinx (English model shipped in its wheel) and MMS_FA (weights downloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from songprep.alignment import align_lyrics
from songprep.alignment.ctc import align_ctc, load_mms_fa
from songprep.alignment.normalise import reference_words
from songprep.audio import decode
from songprep.errors import ModelNotFoundError, RejectError
from songprep.testing.corpus import load_corpus


@pytest.fixture(scope="module")
def english(truth_corpus: Path):
    song = next(s for s in load_corpus(truth_corpus) if s.language == "en")
    return song, decode(truth_corpus / song.paths.vocals)


def test_pocketsphinx_aligns_an_english_song(english):
    truth, vocals = english
    result = align_lyrics(truth.lines, vocals, "en", method="sphinx")
    assert result.method == "sphinx" and not result.flagged
    assert [w.word for w in result.words] == [w.word for w in truth.words]
    errors = [abs(w.start_s - t.start_s) for w, t in zip(result.words, truth.words)]
    assert np.median(errors) <= 0.1


def test_pocketsphinx_finds_no_alignment_for_foreign_text_and_refuses_other_languages(english, truth_corpus):
    truth, vocals = english
    spanish = next(s for s in load_corpus(truth_corpus) if s.language == "es")
    assert align_lyrics(spanish.lines, vocals, "en", method="sphinx").flagged
    with pytest.raises(RejectError, match="English-only"):
        align_lyrics(spanish.lines, vocals, "es", method="sphinx")


def test_missing_mms_fa_weights_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGPREP_OFFLINE", "1")
    monkeypatch.setenv("SONGPREP_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(ModelNotFoundError) as err:
        load_mms_fa()
    message = str(err.value)
    assert "\n" not in message
    assert "MMS_FA" in message and str(tmp_path / "models" / "mms_fa" / "model.pt") in message
    assert "ctc_alignment_mling_uroman/model.pt" in message  # how to get it


def test_ctc_path_with_a_small_random_wav2vec2():
    """The real MMS_FA code path (tokens, chunked emissions, forced_align, frame times) on random weights."""
    import torch
    import torchaudio

    torch.manual_seed(0)
    model = torchaudio.models.wav2vec2_model(
        extractor_mode="layer_norm", extractor_conv_layer_config=[(32, 10, 5), (32, 3, 2), (32, 3, 2), (32, 3, 2),
                                                                  (32, 3, 2), (32, 2, 2), (32, 2, 2)],
        extractor_conv_bias=True, encoder_embed_dim=32, encoder_projection_dropout=0.0, encoder_pos_conv_kernel=16,
        encoder_pos_conv_groups=4, encoder_num_layers=1, encoder_num_heads=2, encoder_attention_dropout=0.0,
        encoder_ff_interm_features=64, encoder_ff_interm_dropout=0.0, encoder_dropout=0.0,
        encoder_layer_norm_first=True, encoder_layer_drop=0.0, aux_num_out=28).eval()
    audio = (0.1 * np.random.default_rng(0).standard_normal(16000 * 35)).astype(np.float32)  # two chunks
    ref = reference_words(["hola mundo", "我们 走", "tonight we fly"], "es")
    result = align_ctc(ref, audio, "es", model=model)
    assert result.method == "ctc"
    assert [w.word for w in result.words] == [w.text for w in ref]
    starts = [w.start_s for w in result.words]
    assert starts == sorted(starts) and 0.0 <= starts[0] and result.words[-1].end_s <= 35.0 + 0.05
