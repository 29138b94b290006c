"""English forced alignment with pocketsphinx, whose acoustic model and CMU dictionary ship in its wheel.

The decoder is constrained to the reference word sequence (optional silences between words), so it
never invents words; words the dictionary lacks are left out of the search and placed between their
aligned neighbours. Times come in 10 ms frames. Scores are the decoder's per-word acoustic posteriors.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from songprep.alignment.anchors import Anchor
from songprep.alignment.normalise import RefWord
from songprep.errors import ModelNotFoundError, RejectError

SPHINX_FRAME_S = 0.01
_NOT_WORDS = ("<s>", "</s>", "<sil>", "(NULL)")


@lru_cache(maxsize=1)
def _decoder():
    try:
        from pocketsphinx import Decoder, get_model_path
    except ImportError as err:
        raise ModelNotFoundError("pocketsphinx is not installed (pip install pocketsphinx); its wheel ships the "
                                 "English model the 'sphinx' aligner uses") from err
    model = get_model_path("en-us")
    return Decoder(hmm=f"{model}/en-us", dict=f"{model}/cmudict-en-us.dict", samprate=16000, loglevel="FATAL",
                   lm=None, bestpath=False, beam=1e-200, wbeam=1e-200, pbeam=1e-200)


def dictionary_form(word: RefWord, decoder) -> str | None:
    """The CMU dictionary spelling of a word (lower case, apostrophes kept), or None when it is missing."""
    form = "".join(c for c in word.text.lower() if c.isalpha() or c == "'")
    return form if form and decoder.lookup_word(form) else None


def align_sphinx(ref: list[RefWord], mono_16k: np.ndarray, language: str, anchors: list[Anchor] | None = None):
    """Forced alignment of ``ref`` in a 16 kHz mono vocal (English only)."""
    from songprep.alignment import Alignment, _verdict_from_times

    if language != "en":
        raise RejectError(f"the pocketsphinx aligner is English-only (its wheel ships en-us), not {language!r}")
    decoder = _decoder()
    forms = [dictionary_form(w, decoder) for w in ref]
    known = [i for i, f in enumerate(forms) if f]
    if not known:
        return Alignment([], 0.0, "sphinx", True, "no reference word is in the pocketsphinx dictionary")
    pcm = (np.clip(mono_16k, -1, 1) * 32767).astype(np.int16).tobytes()
    try:
        decoder.set_align_text(" ".join(forms[i] for i in known))
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
    except RuntimeError as err:
        raise RejectError(f"pocketsphinx could not align: {err}") from None
    found = decoder.seg() if decoder.hyp() is not None else []
    segs = [s for s in found if s.word not in _NOT_WORDS and not s.word.startswith("[")]
    starts = np.full(len(ref), np.nan)
    ends = np.full(len(ref), np.nan)
    scores = np.zeros(len(ref))
    if len(segs) == len(known):
        for i, s in zip(known, segs):
            starts[i] = s.start_frame * SPHINX_FRAME_S
            ends[i] = (s.end_frame + 1) * SPHINX_FRAME_S
            scores[i] = float(np.clip(s.prob, 0.0, 1.0))
    return _verdict_from_times(ref, starts, ends, scores, anchors or [], "sphinx")
