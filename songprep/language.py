"""A song's language from its lyrics text and its voice: never a silent default to English.

Text: py3langid (langid.py's model, shipped in its wheel, BSD) ranks 97 languages from character
n-grams; on a song's whole lyric it is decisive (the four real dev songs: the right language by
hundreds of nats). Audio: Whisper's language head on up to 30 s of the song where the vocal stem is
active. Both are posteriors over the languages Whisper knows; the product decides, so a short or
mixed-language text is steadied by the voice and an ambiguous voice by the text.

>>> text_language(["Je ne regrette rien, non, rien de rien"])[0]
'fr'
"""

from __future__ import annotations

import numpy as np

from songprep.errors import RejectError

SAMPLE_RATE = 16000


class LanguageUnknownError(RejectError):
    """Neither the text nor the audio tells the language (and ``--language`` was not given)."""


def _whisper_languages() -> tuple[str, ...]:
    from whisper.tokenizer import LANGUAGES

    return tuple(LANGUAGES)


def text_scores(lines: list[str]) -> dict[str, float]:
    """Log posterior of each Whisper language given the text (uniform prior); empty when the text has no letters."""
    import py3langid

    text = " ".join(lines)
    if not any(ch.isalpha() for ch in text):
        return {}
    known = set(_whisper_languages())
    ranked = [(lang, score) for lang, score in py3langid.rank(text) if lang in known]
    if not ranked:
        return {}
    langs, scores = zip(*ranked)
    scores = np.asarray(scores, np.float64)
    log_post = scores - (scores.max() + np.log(np.exp(scores - scores.max()).sum()))
    return dict(zip(langs, log_post.tolist()))


def text_language(lines: list[str]) -> tuple[str | None, float]:
    """The text's most likely language and its posterior probability (None when the text has no letters)."""
    scores = text_scores(lines)
    if not scores:
        return None, 0.0
    best = max(scores, key=scores.get)
    return best, float(np.exp(scores[best]))


def audio_scores(model, speech_16k: np.ndarray) -> dict[str, float]:
    """Log posterior of each language from Whisper's language head on ``speech_16k`` (at most 30 s is used)."""
    import whisper

    if not model.is_multilingual or len(speech_16k) < SAMPLE_RATE // 2:
        return {}
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(speech_16k.astype(np.float32)), model.dims.n_mels)
    _, probs = whisper.detect_language(model, mel.to(model.device))
    return {lang: float(np.log(max(p, 1e-12))) for lang, p in probs.items()}


def active_speech(audio_16k: np.ndarray, active: np.ndarray, frame_s: float = 0.02, max_s: float = 30.0) -> np.ndarray:
    """Up to ``max_s`` of ``audio_16k`` from the frames where the vocal is active (``active`` >= 0.5)."""
    hop = int(frame_s * SAMPLE_RATE)
    frames = np.flatnonzero(np.asarray(active) >= 0.5)[: int(max_s / frame_s)]
    if frames.size == 0:
        return audio_16k[:0]
    idx = (frames[:, None] * hop + np.arange(hop)[None, :]).ravel()
    return audio_16k[idx[idx < len(audio_16k)]]


def decide(text: dict[str, float], audio: dict[str, float]) -> tuple[str, str]:
    """The language and what settled it ("text+audio", "text" or "audio"); refuses when neither says anything."""
    if text and audio:
        joint = {lang: text.get(lang, -1e6) + audio.get(lang, -1e6) for lang in set(text) | set(audio)}
        return max(joint, key=joint.get), "text+audio"
    if text:
        return max(text, key=text.get), "text"
    if audio:
        return max(audio, key=audio.get), "audio"
    raise LanguageUnknownError("language unknown: the lyrics hold no letters and no voice was heard; "
                               "pass --language")
