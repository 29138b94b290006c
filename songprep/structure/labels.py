"""Section labels from evidence: singing, repetition, lyrics and energy — not from position alone.

1. ``silence``: a segment whose bars are all far below the song's loud level (``BarFeatures.silent``).
2. Singing (vocal stem, else aligned words): segments without it are ``intro`` before the first sung
   segment, ``outro`` after the last, ``inst`` in between. When the song's words are known (aligned
   lyrics, or a transcript, even an empty one), a segment sings only if words fall in it too: a
   separated stem carries bleed of melodic instruments (a real instrumental track scored 87% "sung"
   on stem energy alone), while Whisper behind voice-activity gating hears no words there. A
   transcript may also drop words that were sung (``words_complete=False``): there a wordless segment
   the stem sings in still sings when its music is sung with words elsewhere in the song.
3. Sung segments are grouped by repetition: two segments repeat when their bars, aligned from their
   starts, match in harmony (beat-stacked chroma, in any key) and timbre.
4. When words are known and some are sung again (:mod:`.repetition`), the chorus is lyric repetition:
   every sung segment whose words are mostly repeated, and the segments that repeat the same music
   with some of those words (a chorus whose later lines change) or with none heard. Otherwise the chorus is the audio
   group that repeats most, with the most energy. The rest is ``verse``, except a sung segment after
   the first chorus that repeats nothing, which may be the ``bridge``.
5. The song-form rules of :mod:`.form` (one bridge, same-label neighbours merged).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from songprep.records import Word
from songprep.structure.bars import BarFeatures
from songprep.structure.form import limit_bridges, merge_groups
from songprep.structure.repetition import word_repetition

#: A segment sings when at least this share of its frames do (or, from words, its bars hold words).
SUNG_SHARE = 0.15
#: Two segments repeat when their aligned bars are at least this similar (cosine, 0..1) ...
REPEAT_SIMILARITY = 0.85
#: ... or, standing out from the song (a varied chorus: new drums, a key change), at least this similar
#: and REPEAT_MARGIN above the median similarity of the song's pairs of segments.
REPEAT_SIMILARITY_VARIED = 0.75
REPEAT_MARGIN = 0.15
#: A sung segment is a chorus on its lyrics alone when at least this share of its words are sung again ...
LYRIC_CHORUS_SHARE = 0.5
#: ... and, repeating a lyric chorus's music, when at least this share are.
LYRIC_CHORUS_SHARE_WITH_MUSIC = 0.15


@dataclass
class Segment:
    """Bars ``[start_bar, end_bar)`` of the grid and the evidence gathered about them."""

    start_bar: int
    end_bar: int
    sung: bool | None = None
    rms_db: float = 0.0
    group: int = -1
    lyric_repeat: float = 0.0  # share of its words the song sings again (0 without words)
    label: str = ""
    words: list[str] = field(default_factory=list)  # folded words sung in it, in order
    repeated_words: float = 0.0  # how many of them are sung again

    @property
    def bars(self) -> int:
        return self.end_bar - self.start_bar


def label_segments(bars: BarFeatures, starts: list[int], words: list[Word] | None = None,
                   repeated: np.ndarray | None = None, words_complete: bool = True) -> list[Segment]:
    """Label the segments that begin at bar indices ``starts`` (first 0, in order).

    ``repeated`` is :func:`~songprep.structure.repetition.word_repetition` of ``words`` (computed here
    when not given). ``words_complete=False`` (a transcript) says words may be missing where they were
    sung: a gated recogniser drops whole choruses it is unsure of. A segment without words then still
    sings when the stem sings there and its music is sung, with words, elsewhere in the song.
    """
    ends = [*starts[1:], bars.n_bars]
    segments = [Segment(a, b) for a, b in zip(starts, ends)]
    word_bars = _words_per_bar(bars, words) if words is not None else None
    for seg in segments:
        span = slice(seg.start_bar, seg.end_bar)
        seg.rms_db = float(10 * np.log10(np.mean(10 ** (bars.rms_db[span] / 10))))
        if bars.vocal is not None:
            seg.sung = float(bars.vocal[span].mean()) >= SUNG_SHARE
            if word_bars is not None:
                seg.sung = seg.sung and bool(word_bars[span].sum() > 0)
        elif word_bars is not None and word_bars.any():
            seg.sung = float((word_bars[span] > 0).mean()) >= 0.5
    _group_by_repetition(bars, segments)
    merged = merge_repeated_neighbours(segments)
    if len(merged) < len(segments):
        segments = merged
        _group_by_repetition(bars, segments)
    if words:
        _lyric_repetition(bars, segments, words, word_repetition(words) if repeated is None else repeated)
    if words is not None and not words_complete and bars.vocal is not None:
        _sung_like_its_music(bars, segments)
    silent = bars.silent()
    for seg in segments:
        if silent[seg.start_bar:seg.end_bar].all():
            seg.label = "silence"
    if any(seg.sung is not None for seg in segments):
        _label_with_singing(segments)
    else:
        _label_without_singing(segments)
    limit_bridges(segments)
    return [_join(bars, [segments[i] for i in run]) for run in merge_groups(segments)]


def _join(bars: BarFeatures, run: list[Segment]) -> Segment:
    """One segment for a run of neighbours with the same label."""
    if len(run) == 1:
        return run[0]
    first, last = run[0], run[-1]
    power = np.average([10 ** (s.rms_db / 10) for s in run], weights=[s.bars for s in run])
    words = [w for s in run for w in s.words]
    hits = sum(s.repeated_words for s in run)
    return Segment(first.start_bar, last.end_bar, first.sung, float(10 * np.log10(power)), first.group,
                   hits / len(words) if words else 0.0, first.label, words, hits)


def _sung_like_its_music(bars: BarFeatures, segments: list[Segment]) -> None:
    """Segments the stem sings in, without words, that repeat the music of a segment sung with words."""
    assert bars.vocal is not None
    sung_groups = {s.group for s in segments if s.sung}
    for seg in segments:
        if not seg.sung and seg.group in sung_groups:
            seg.sung = float(bars.vocal[seg.start_bar:seg.end_bar].mean()) >= SUNG_SHARE


def merge_repeated_neighbours(segments: list[Segment]) -> list[Segment]:
    """Join runs of neighbours that repeat each other (a chorus cut in two identical halves), when the
    joined runs still repeat elsewhere; a boundary between two copies of the same music marks no change.
    """
    runs: list[list[Segment]] = []
    for seg in segments:
        if runs and runs[-1][-1].group == seg.group and runs[-1][-1].sung == seg.sung:
            runs[-1].append(seg)
        else:
            runs.append([seg])
    runs_per_group: dict[int, int] = {}
    for run in runs:
        runs_per_group[run[0].group] = runs_per_group.get(run[0].group, 0) + 1
    out: list[Segment] = []
    for run in runs:
        if len(run) > 1 and runs_per_group[run[0].group] >= 2:
            first, last = run[0], run[-1]
            power = np.average([10 ** (s.rms_db / 10) for s in run], weights=[s.bars for s in run])
            out.append(Segment(first.start_bar, last.end_bar, first.sung, float(10 * np.log10(power))))
        else:
            out.extend(run)
    return out


def _label_with_singing(segments: list[Segment]) -> None:
    sung = [s for s in segments if s.sung and not s.label]
    if not sung:  # an instrumental: inst, framed by intro/outro where energy says so
        _label_instrumental(segments)
        return
    first, last = sung[0].start_bar, sung[-1].start_bar
    for seg in segments:
        if seg.label or seg.sung:
            continue
        seg.label = "intro" if seg.start_bar < first else ("outro" if seg.start_bar > last else "inst")
    _label_sung(sung)


def _label_sung(sung: list[Segment]) -> None:
    """Chorus, verse and bridge among the sung segments."""
    groups: dict[int, list[Segment]] = {}
    for seg in sung:
        groups.setdefault(seg.group, []).append(seg)
    if any(s.lyric_repeat >= LYRIC_CHORUS_SHARE for s in sung):
        _label_sung_by_lyrics(sung, groups)
        return
    mean_db = float(np.mean([s.rms_db for s in sung]))

    def chorus_score(members: list[Segment]) -> float:
        energy = float(np.mean([s.rms_db for s in members])) - mean_db
        lyrics = float(np.mean([s.lyric_repeat for s in members]))
        return len(members) + 2.0 * lyrics + energy / 3.0

    repeated = {g: m for g, m in groups.items() if len(m) >= 2}
    if repeated:
        chorus = max(repeated, key=lambda g: chorus_score(repeated[g]))
    else:  # nothing repeats: the clearly loudest sung segment is the chorus, if any is
        loudest = max(sung, key=lambda s: s.rms_db)
        others = [s.rms_db for s in sung if s is not loudest]
        chorus = loudest.group if others and loudest.rms_db - max(others) >= 3.0 else None
    first_chorus = min((s.start_bar for s in sung if s.group == chorus), default=None)
    for seg in sung:
        if seg.group == chorus:
            seg.label = "chorus"
        elif first_chorus is not None and seg.start_bar > first_chorus and len(groups[seg.group]) == 1:
            seg.label = "bridge"
        else:
            seg.label = "verse"


def _label_sung_by_lyrics(sung: list[Segment], groups: dict[int, list[Segment]]) -> None:
    """The chorus is what the lyrics repeat (see the module docstring, 4); bridge as for audio."""
    chorus_groups = {s.group for s in sung if s.lyric_repeat >= LYRIC_CHORUS_SHARE}
    for seg in sung:
        by_music = seg.group in chorus_groups and len(groups[seg.group]) >= 2
        seg.label = "chorus" if seg.lyric_repeat >= LYRIC_CHORUS_SHARE or (
            by_music and (seg.lyric_repeat >= LYRIC_CHORUS_SHARE_WITH_MUSIC or not seg.words)) else ""
    first_chorus = min(s.start_bar for s in sung if s.label == "chorus")
    for seg in sung:
        if not seg.label:
            alone = len(groups[seg.group]) == 1 and seg.lyric_repeat == 0.0
            seg.label = "bridge" if alone and seg.start_bar > first_chorus else "verse"


def _label_quiet_ends(segments: list[Segment]) -> list[Segment]:
    """Unlabelled quiet ends become intro/outro; returns the segments still unlabelled."""
    open_ = [s for s in segments if not s.label]
    if not open_:
        return []
    median_db = float(np.median([s.rms_db for s in open_]))
    if len(open_) >= 3 and open_[0].rms_db < median_db - 1.0:
        open_[0].label = "intro"
    if len(open_) >= 3 and open_[-1].rms_db < median_db - 1.0:
        open_[-1].label = "outro"
    return [s for s in open_ if not s.label]


def _label_instrumental(segments: list[Segment]) -> None:
    """Evidence says nobody sings: quiet ends are intro/outro, everything else inst."""
    for seg in _label_quiet_ends(segments):
        seg.label = "inst"


def _label_without_singing(segments: list[Segment]) -> None:
    """No vocal evidence: quiet ends are intro/outro, the most repeated loud group the chorus, the rest verse."""
    middle = _label_quiet_ends(segments)
    if middle:
        _label_sung(middle)


def _group_by_repetition(bars: BarFeatures, segments: list[Segment]) -> None:
    """Group ids: segments joined (transitively) when their aligned bars are similar (see REPEAT_SIMILARITY)."""
    chroma = _unit(bars.chroma)
    timbre = _unit(_standardise(bars.timbre))
    n = len(segments)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    pairs = {(i, j): segment_similarity(chroma, timbre, segments[i], segments[j])
             for i in range(n) for j in range(i + 1, n)}
    comparable = [v for v in pairs.values() if v > 0]
    typical = float(np.median(comparable)) if comparable else 0.0
    threshold = min(REPEAT_SIMILARITY, max(REPEAT_SIMILARITY_VARIED, typical + REPEAT_MARGIN))
    for (i, j), similarity in pairs.items():
        if similarity >= threshold:
            parent[find(j)] = find(i)
    roots = {find(i) for i in range(n)}
    ids = {root: k for k, root in enumerate(sorted(roots))}
    for i, seg in enumerate(segments):
        seg.group = ids[find(i)]


def segment_similarity(chroma: np.ndarray, timbre: np.ndarray, a: Segment, b: Segment) -> float:
    """Mean similarity of bars aligned from both starts, over the shorter segment; 0 if lengths differ a lot.

    Harmony is compared in every key (:func:`transposed_harmony`), so a chorus sung a tone higher
    still matches its first statement; timbre (MFCC) does not depend on the key.
    """
    k = min(a.bars, b.bars)
    if k == 0 or max(a.bars, b.bars) > 2 * k:
        return 0.0
    ia, ib = slice(a.start_bar, a.start_bar + k), slice(b.start_bar, b.start_bar + k)
    colour = (np.sum(timbre[ia] * timbre[ib], axis=1) + 1) / 2
    return float(0.5 * transposed_harmony(chroma[ia], chroma[ib]) + 0.5 * np.mean(colour))


def transposed_harmony(a: np.ndarray, b: np.ndarray) -> float:
    """Best mean cosine of aligned bars' beat-stacked chroma (rows of 12 * beats, unit rows) over the 12
    transpositions of ``b``: a key change moves every chroma vector round the circle by the same step."""
    n, width = a.shape
    beats = width // 12
    rolled = b.reshape(n, beats, 12)
    return max(float(np.mean(np.sum(a * np.roll(rolled, shift, axis=2).reshape(n, width), axis=1)))
               for shift in range(12))


def _lyric_repetition(bars: BarFeatures, segments: list[Segment], words: list[Word], repeated: np.ndarray) -> None:
    """Each segment's sung words (by midpoint, in sung order) and the share of them sung again elsewhere."""
    starts = np.array([bars.starts_s[s.start_bar] for s in segments])
    for i in sorted(range(len(words)), key=lambda i: (words[i].start_s, i)):
        w = words[i]
        seg = segments[max(int(np.searchsorted(starts, (w.start_s + w.end_s) / 2, side="right") - 1), 0)]
        seg.words.append(_normalise_word(w.word))
        seg.repeated_words += float(repeated[i])
    for seg in segments:
        seg.lyric_repeat = seg.repeated_words / len(seg.words) if seg.words else 0.0


def _words_per_bar(bars: BarFeatures, words: list[Word]) -> np.ndarray:
    counts = np.zeros(bars.n_bars)
    for w in words:
        counts[bars.bar_of((w.start_s + w.end_s) / 2)] += 1
    return counts


def _normalise_word(word: str) -> str:
    return re.sub(r"[^\w]+", "", word.lower())


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def _standardise(x: np.ndarray) -> np.ndarray:
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
