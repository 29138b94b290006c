"""PER, WER and CER of one transcript against its reference, as edit-operation counts.

Counts (substitutions, deletions, insertions, reference length) are kept per song, not just the
rate: a corpus rate is the sum of errors over the sum of reference lengths (long songs weigh more),
a mean of per-song rates weighs every song alike. Reports show both, labelled.

>>> scorer = TextScorer()
>>> pair = scorer.score("I can't stop", "I can stop", "en")
>>> pair.per.substitutions, pair.per.deletions, pair.per.reference_length
(0, 1, 9)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import jiwer

from songprep.evaluation.g2p import G2P
from songprep.evaluation.normalise import normalise_text

METRICS = ("per", "wer", "cer")

#: jiwer's word split alone (its default transforms would cost more than the alignment on long texts).
_SPLIT = jiwer.ReduceToListOfListOfWords()


@dataclass(frozen=True)
class ErrorCounts:
    """Edit operations aligning a hypothesis to a reference (Levenshtein, unit costs)."""

    substitutions: int
    deletions: int
    insertions: int
    reference_length: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """Errors over reference length; NaN for an empty reference (no rate is defined)."""
        return self.errors / self.reference_length if self.reference_length else float("nan")

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "rate": self.rate}


@dataclass(frozen=True)
class PairScore:
    """PER, WER and CER of one (reference, hypothesis) pair in one language."""

    language: str
    per: ErrorCounts
    wer: ErrorCounts
    cer: ErrorCounts

    def to_dict(self) -> dict[str, object]:
        return {"language": self.language, **{m: getattr(self, m).to_dict() for m in METRICS}}


def edit_counts(reference: Sequence[str], hypothesis: Sequence[str]) -> ErrorCounts:
    """Levenshtein alignment of two token sequences (jiwer), as counts."""
    if not reference:
        return ErrorCounts(0, 0, len(hypothesis), 0)
    if not hypothesis:
        return ErrorCounts(0, len(reference), 0, len(reference))
    # Tokens never hold whitespace (phones, normalised words, characters): a space-joined string round-trips.
    out = jiwer.process_words(" ".join(reference), " ".join(hypothesis), reference_transform=_SPLIT,
                              hypothesis_transform=_SPLIT)
    return ErrorCounts(out.substitutions, out.deletions, out.insertions, len(reference))


class TextScorer:
    """The text side of PER/WER/CER: normalise, phonemize (batched, cached), align."""

    def __init__(self, g2p: G2P | None = None) -> None:
        self.g2p = g2p or G2P()

    def score(self, reference: str, hypothesis: str, language: str) -> PairScore:
        return self.score_batch([(reference, hypothesis)], language)[0]

    def score_batch(self, pairs: Sequence[tuple[str, str]], language: str) -> list[PairScore]:
        """Score many pairs of one language: all their texts are phonemized in one batch."""
        refs = [normalise_text(r, language) for r, _ in pairs]
        hyps = [normalise_text(h, language) for _, h in pairs]
        phones = self.g2p.phonemize(refs + hyps, language)
        out = []
        for i, (ref, hyp) in enumerate(zip(refs, hyps)):
            out.append(PairScore(
                language=language,
                per=edit_counts(phones[i], phones[len(refs) + i]),
                wer=edit_counts(ref.split(), hyp.split()),
                cer=edit_counts(_chars(ref), _chars(hyp)),
            ))
        return out


def _chars(normalised: str) -> list[str]:
    return [c for c in normalised if not c.isspace()]


def corpus_rate(counts: Sequence[ErrorCounts]) -> float:
    """Sum of errors over sum of reference lengths (what most ASR papers call WER)."""
    total = sum(c.reference_length for c in counts)
    return sum(c.errors for c in counts) / total if total else float("nan")


def mean_rate(counts: Sequence[ErrorCounts]) -> float:
    """Mean of per-song rates (songs with an empty reference left out)."""
    rates = [c.rate for c in counts if c.reference_length]
    return sum(rates) / len(rates) if rates else float("nan")
