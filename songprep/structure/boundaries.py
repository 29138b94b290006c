"""Section boundaries on the bar grid: multi-feature novelty, then a global choice with a phrase prior.

Novelty (Foote 2000) is computed separately on bar-level self-similarity of timbre (MFCC), energy
(RMS) and singing (vocal activity), each with checkerboard windows of 2 and 4 bars; the diagonal is
left out so that a one-bar section at the song's edge is not favoured by its own self-similarity. Each
curve is scaled by its largest value, so no one feature dominates because of its units.

Boundaries are then chosen together by dynamic programming: each boundary earns its novelty minus
``threshold``; each section pays nothing when it is a multiple of 4 bars long, ``even_penalty`` when
it is another even length and ``odd_penalty`` when odd (the first and last sections at most
``even_penalty``), see :class:`BoundaryConfig`. That phrase prior is generic pop-music knowledge
(sections run in 2-, 4- and 8-bar phrases; intros and outros may be anything): it moves a boundary
pulled one bar early by a drum fill back onto the phrase line. Runs of silent bars are sections of
their own, and the music between them is segmented separately.

Last, :func:`split_on_level` cuts a section at a phrase line where the level steps up or down and
stays there (a quiet verse running into a loud chorus whose timbre changed little).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from songprep.structure.bars import BarFeatures


@dataclass(frozen=True)
class BoundaryConfig:
    """Knobs of the boundary search.

    Defaults were tuned on generated songs of corpus seeds 1, 2, 7 and 8; bench/structure.py scores others.
    """

    windows_bars: tuple[int, ...] = (2, 4)
    threshold: float = 0.0
    #: Cost of a section whose length is even but not a multiple of 4 bars.
    even_penalty: float = 0.5
    #: Cost of a section of an odd number of bars (first and last sections pay at most even_penalty).
    odd_penalty: float = 1.0
    #: Weights of the timbre, energy and vocal novelty curves.
    weights: tuple[float, float, float] = (1.0, 1.0, 0.5)
    #: A sustained level change inside a section at least this large (dB) splits it (see split_on_level).
    level_step_db: float = 1.5
    #: Novelty added where the lyrics start or stop repeating (see lyric_novelty): above two odd-length
    #: penalties, so a chorus that starts off the 4-bar grid still starts where it is sung.
    lyric_weight: float = 2.5


DEFAULT_CONFIG = BoundaryConfig()


def novelty_curves(bars: BarFeatures, windows: tuple[int, ...] = (2, 4)) -> dict[str, np.ndarray]:
    """Per feature, novelty of a boundary before bar ``i`` (index ``i``; 0 and ``n_bars`` are the song's ends)."""
    timbre = _standardise(bars.timbre)
    dist = ((timbre[:, None, :] - timbre[None, :, :]) ** 2).sum(-1)
    scale = float(np.median(dist[dist > 0])) if np.any(dist > 0) else 1.0
    similarity = {
        "timbre": np.exp(-dist / scale),
        "energy": np.exp(-np.abs(bars.rms_db[:, None] - bars.rms_db[None, :]) / 3.0),
    }
    if bars.vocal is not None:
        similarity["vocal"] = 1.0 - np.abs(bars.vocal[:, None] - bars.vocal[None, :])
    return {name: sum(checkerboard_novelty(s, w) for w in windows) for name, s in similarity.items()}


def combined_novelty(bars: BarFeatures, config: BoundaryConfig = DEFAULT_CONFIG) -> np.ndarray:
    """The weighted mean of the per-feature curves, each scaled by its largest inner value."""
    curves = novelty_curves(bars, config.windows_bars)
    weights = dict(zip(("timbre", "energy", "vocal"), config.weights))
    total = np.zeros(bars.n_bars + 1)
    weight_sum = 0.0
    for name, curve in curves.items():
        inner = curve[1:-1]
        scale = float(inner.max()) if inner.size else 0.0
        if scale > 0:
            total += weights[name] * curve / scale
            weight_sum += weights[name]
    return total / weight_sum if weight_sum else total


def lyric_novelty(bars: BarFeatures, words: list, repeated: np.ndarray,
                  config: BoundaryConfig = DEFAULT_CONFIG) -> np.ndarray:
    """``config.lyric_weight`` at every bar line where the lyrics change between sung-again and sung-once
    (:func:`songprep.structure.repetition.lyric_changes`), 0 elsewhere; same indexing as the novelty."""
    from songprep.structure.repetition import bar_repetition, lyric_changes

    out = np.zeros(bars.n_bars + 1)
    count, share = bar_repetition(bars.starts_s, words, repeated)
    for k in lyric_changes(count, share):
        out[k] = config.lyric_weight
    return out


def checkerboard_novelty(similarity: np.ndarray, half_width: int) -> np.ndarray:
    """Within-block minus across-block mean similarity at every bar line, windows clipped at the ends."""
    n = similarity.shape[0]
    out = np.zeros(n + 1)
    for i in range(1, n):
        a = np.arange(max(0, i - half_width), i)
        b = np.arange(i, min(n, i + half_width))
        within = [w for w in (_off_diagonal_mean(similarity, a), _off_diagonal_mean(similarity, b)) if w is not None]
        if not within:  # two one-bar blocks: compare with perfect self-similarity
            within = [1.0]
        out[i] = float(np.mean(within)) - float(similarity[np.ix_(a, b)].mean())
    return out


def choose_boundaries(novelty: np.ndarray, config: BoundaryConfig = DEFAULT_CONFIG) -> list[int]:
    """Bar indices of the section starts (0 first), chosen jointly by dynamic programming.

    ``novelty[i]`` is the evidence for a boundary before bar ``i``; ``len(novelty) == n_bars + 1``.
    """
    n = novelty.shape[0] - 1
    if n <= 1:
        return [0]
    best = np.full(n + 1, -np.inf)
    best[0] = 0.0
    previous = np.zeros(n + 1, dtype=int)
    for end in range(1, n + 1):
        gain = novelty[end] - config.threshold if end < n else 0.0
        for start in range(end):
            score = best[start] + gain - _length_cost(end - start, start == 0 or end == n, config)
            if score > best[end]:
                best[end], previous[end] = score, start
    starts = []
    end = n
    while end > 0:
        end = previous[end]
        starts.append(end)
    return sorted(starts)


def split_on_level(starts: list[int], rms_db: np.ndarray, config: BoundaryConfig = DEFAULT_CONFIG) -> list[int]:
    """Split sections that hold a sustained level change (a quiet verse running into a loud chorus).

    A section of 8 bars or more is cut at the phrase line (an even bar from its start, whole 4-bar
    phrases each side) with the largest step in mean level, when the step is at least ``level_step_db`` and
    1.5 times the level spread inside either half. Repeats until nothing changes.
    """
    n = rms_db.shape[0]
    out = sorted(set(starts))
    changed = True
    while changed:
        changed = False
        for a, b in zip(out, [*out[1:], n]):
            cut = _best_level_cut(rms_db[a:b], config.level_step_db)
            if cut is not None:
                out = sorted({*out, a + cut})
                changed = True
                break
    return out


def _best_level_cut(levels_db: np.ndarray, min_step_db: float, min_bars: int = 4) -> int | None:
    best, best_step = None, 0.0
    for cut in range(min_bars, levels_db.shape[0] - min_bars + 1, 2):
        left, right = levels_db[:cut], levels_db[cut:]
        step = abs(float(left.mean() - right.mean()))
        spread = max(float(left.std()), float(right.std()))
        if step >= min_step_db and step >= 1.5 * spread and step > best_step:
            best, best_step = cut, step
    return best


def choose_boundaries_around_silence(novelty: np.ndarray, silent: np.ndarray,
                                    config: BoundaryConfig = DEFAULT_CONFIG) -> list[int]:
    """Like :func:`choose_boundaries`, but runs of silent bars are sections of their own and the music
    between them is segmented on its own (so the phrase prior counts from where the music starts).
    """
    starts: list[int] = []
    n = silent.shape[0]
    a = 0
    while a < n:
        b = a + 1
        while b < n and silent[b] == silent[a]:
            b += 1
        starts += [a] if silent[a] else [a + s for s in choose_boundaries(novelty[a:b + 1], config)]
        a = b
    return starts or [0]


def _length_cost(bars: int, at_edge: bool, config: BoundaryConfig) -> float:
    if bars % 4 == 0:
        return 0.0
    if bars % 2 == 0 or at_edge:
        return config.even_penalty
    return config.odd_penalty


def _off_diagonal_mean(similarity: np.ndarray, index: np.ndarray) -> float | None:
    k = index.shape[0]
    if k < 2:
        return None
    block = similarity[np.ix_(index, index)]
    return float((block.sum() - np.trace(block)) / (k * (k - 1)))


def _standardise(x: np.ndarray) -> np.ndarray:
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
