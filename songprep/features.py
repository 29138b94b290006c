"""Per-song analysis features, computed once and shared by every stage that needs them.

Structure, alignment and note stages all want the same things: a mono signal at an analysis rate,
beats and downbeats, beat-synchronous chroma and MFCC, loudness over time and where the voice sings.
:func:`song_features` computes them once per song and keeps them on the item
(``item.features[FEATURES_KEY]``), so a second stage pays nothing.

Conventions (every array is numpy):

- frames: ``hop_length`` samples apart at ``sample_rate`` (default 22050 Hz, hop 512, ~23 ms), centred
  (frame ``i`` is at ``i * hop_length / sample_rate`` s, see :attr:`SongFeatures.frame_times_s`);
- beats: ``beats_s`` are librosa's tracked beats (dynamic programming over an onset envelope). Beat
  ``i`` spans ``[beats_s[i], beats_s[i + 1])``; the last beat spans to the end of the song. Anything
  before the first beat belongs to no beat. ``beat_*`` arrays have one column per beat;
- downbeats: librosa has no downbeat tracker. We decode the bar position of every beat with a small
  HMM (Viterbi) whose evidence is what marks a bar line in most popular music: harmonic change
  (chroma distance to the previous beat) and low-frequency onsets (kick, bass). The metre is assumed
  to be 4/4 unless 3/4 explains that evidence clearly better; other metres are not considered.

Example::

    feats = song_features(item)              # SongItem: uses item.audio and item.stems["vocals"]
    feats = song_features(audio, vocals=vox)  # or plain Audio objects
    feats.downbeats_s, feats.beat_chroma.shape, feats.beat_vocal
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from songprep.audio import Audio, standardise

if TYPE_CHECKING:
    from songprep.stages.base import SongItem

#: Key of the shared features in ``SongItem.features``.
FEATURES_KEY = "song"
ANALYSIS_RATE = 22050
HOP_LENGTH = 512
N_FFT = 2048
N_MELS = 64
N_MFCC = 20
#: Metres the downbeat decoder considers; 4 wins unless 3 is clearly better (see ``_METRE_MARGIN``).
METRES = (4, 3)
_METRE_MARGIN = 1.5
#: Probability that the beat tracker skipped or doubled a beat between two beats (a bar-phase jump).
_PHASE_JUMP_P = 1e-3
#: A frame sings when the vocal stem is within this many dB of its own loud level (95th percentile) ...
VOCAL_RANGE_DB = 25.0
#: ... and not far below the mix there (separation bleed sits well below the mix).
VOCAL_TO_MIX_DB = -20.0
_FLOOR_DB = -80.0


@dataclass
class SongFeatures:
    """Analysis features of one song (see the module docstring for frame and beat conventions).

    ``vocal_activity`` (per frame, 0/1) and ``beat_vocal`` (per beat, share of singing frames) are None
    when no vocal stem was given: stages must then do without vocals rather than guess.
    """

    sample_rate: int
    hop_length: int
    duration_s: float
    mono: np.ndarray  # (samples,) float32 at sample_rate
    tempo_bpm: float
    beats_s: np.ndarray  # (n_beats,)
    downbeats_s: np.ndarray  # (n_bars,) a subset of beats_s
    beats_per_bar: int
    beat_position: np.ndarray  # (n_beats,) int: 0 on downbeats, 1..beats_per_bar-1 after them
    onset_envelope: np.ndarray  # (n_frames,)
    frame_rms_db: np.ndarray  # (n_frames,) dBFS of the mix
    chroma: np.ndarray  # (12, n_frames) STFT chroma, tuning assumed A440
    mfcc: np.ndarray  # (N_MFCC, n_frames) from a 64-band log-mel spectrogram
    beat_chroma: np.ndarray  # (12, n_beats), each column max-normalised
    beat_mfcc: np.ndarray  # (N_MFCC, n_beats)
    beat_rms_db: np.ndarray  # (n_beats,)
    vocal_rms_db: np.ndarray | None = None  # (n_frames,)
    vocal_activity: np.ndarray | None = None  # (n_frames,) float 0/1
    beat_vocal: np.ndarray | None = None  # (n_beats,) in [0, 1]

    @property
    def n_frames(self) -> int:
        return int(self.frame_rms_db.shape[0])

    @property
    def frame_times_s(self) -> np.ndarray:
        return np.arange(self.n_frames) * self.hop_length / self.sample_rate

    @property
    def has_vocals(self) -> bool:
        return self.beat_vocal is not None

    def frame_of(self, time_s: np.ndarray | float) -> np.ndarray:
        """Frame index (clipped to the song) of times in seconds."""
        frames = np.round(np.asarray(time_s) * self.sample_rate / self.hop_length).astype(int)
        return np.clip(frames, 0, self.n_frames - 1)

    def beat_frames(self) -> np.ndarray:
        """Frame index of every beat."""
        return np.round(self.beats_s * self.sample_rate / self.hop_length).astype(int)

    def beat_ends_s(self) -> np.ndarray:
        """End of every beat's span: the next beat, the song's end for the last one."""
        return np.r_[self.beats_s[1:], self.duration_s] if self.beats_s.size else self.beats_s

    def add_vocals(self, vocals: Audio) -> None:
        """Fill the vocal fields from a vocal stem (any rate and channel count)."""
        v = standardise(vocals, self.sample_rate, 1).samples[0]
        vocal_db = _frame_rms_db(v, self.n_frames, self.hop_length)
        active = vocal_activity(vocal_db, self.frame_rms_db)
        self.vocal_rms_db = vocal_db
        self.vocal_activity = active
        self.beat_vocal = _beat_mean(active[None, :], self.beat_frames(), self.n_frames)[0]


def song_features(source: SongItem | Audio, vocals: Audio | None = None) -> SongFeatures:
    """The song's features: from the item's cache, else computed (and cached on the item).

    ``source`` is a :class:`~songprep.stages.base.SongItem` (its ``audio``; ``stems["vocals"]`` when the
    separation stage made one) or plain :class:`Audio`. ``vocals`` overrides the item's vocal stem.
    A cached entry without vocals gains them once a vocal stem is available.
    """
    if isinstance(source, Audio):
        feats = compute_features(source)
        if vocals is not None:
            feats.add_vocals(vocals)
        return feats
    item = source
    vocals = vocals if vocals is not None else item.stems.get("vocals")
    feats = item.features.get(FEATURES_KEY)
    if feats is None:
        if item.audio is None:
            raise ValueError("song_features needs decoded audio: run the decode stage first")
        feats = compute_features(item.audio)
        item.features[FEATURES_KEY] = feats
    if vocals is not None and not feats.has_vocals:
        feats.add_vocals(vocals)
    return feats


def compute_features(audio: Audio, sample_rate: int = ANALYSIS_RATE, hop_length: int = HOP_LENGTH) -> SongFeatures:
    """Every mix feature of :class:`SongFeatures` (vocal fields stay None; see :meth:`SongFeatures.add_vocals`)."""
    import librosa

    y = standardise(audio, sample_rate, 1).samples[0]
    duration_s = y.shape[0] / sample_rate
    power = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=hop_length)) ** 2
    n_frames = power.shape[1]
    log_mel = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sample_rate, n_mels=N_MELS))
    onset = librosa.onset.onset_strength(S=log_mel, sr=sample_rate, hop_length=hop_length)
    low_onset = librosa.onset.onset_strength(S=log_mel[: N_MELS // 8], sr=sample_rate, hop_length=hop_length)
    tempo, beat_frames = librosa.beat.beat_track(onset_envelope=onset, sr=sample_rate, hop_length=hop_length,
                                                 trim=False, units="frames")
    # A beat in the last 50 ms spans nothing; the tracker puts one at the very end of some songs.
    beat_frames = beat_frames[beat_frames * hop_length / sample_rate < duration_s - 0.05]
    beats_s = beat_frames * hop_length / sample_rate
    chroma = librosa.feature.chroma_stft(S=power, sr=sample_rate, n_fft=N_FFT, tuning=0.0)
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=N_MFCC)
    rms_db = _power_rms_db(power)
    beat_chroma = _beat_mean(chroma, beat_frames, n_frames)
    beat_chroma /= np.maximum(beat_chroma.max(axis=0, keepdims=True), 1e-9)
    beat_mfcc = _beat_mean(mfcc, beat_frames, n_frames)
    beat_rms_db = 10 * np.log10(np.maximum(_beat_mean(10 ** (rms_db[None] / 10), beat_frames, n_frames)[0], 1e-10))
    evidence = downbeat_evidence(beat_chroma, low_onset[np.minimum(beat_frames, n_frames - 1)])
    beats_per_bar, position = decode_bar_positions(evidence)
    return SongFeatures(
        sample_rate=sample_rate, hop_length=hop_length, duration_s=duration_s, mono=y,
        tempo_bpm=float(np.atleast_1d(tempo)[0]), beats_s=beats_s, downbeats_s=beats_s[position == 0],
        beats_per_bar=beats_per_bar, beat_position=position, onset_envelope=onset, frame_rms_db=rms_db,
        chroma=chroma, mfcc=mfcc, beat_chroma=beat_chroma, beat_mfcc=beat_mfcc, beat_rms_db=beat_rms_db,
    )


def downbeat_evidence(beat_chroma: np.ndarray, beat_low_onset: np.ndarray) -> np.ndarray:
    """Per beat: how much it looks like a bar line (z-scored harmonic change + z-scored low onset)."""
    unit = beat_chroma / np.maximum(np.linalg.norm(beat_chroma, axis=0, keepdims=True), 1e-9)
    change = np.r_[0.0, 1.0 - np.sum(unit[:, 1:] * unit[:, :-1], axis=0)] if unit.shape[1] else np.zeros(0)
    return _zscore(change) + _zscore(np.asarray(beat_low_onset, dtype=float))


def decode_bar_positions(evidence: np.ndarray, metres: tuple[int, ...] = METRES) -> tuple[int, np.ndarray]:
    """Beats per bar and each beat's position in its bar (0 = downbeat), by Viterbi over bar positions.

    The first metre in ``metres`` is the prior: another one must explain the evidence
    ``_METRE_MARGIN`` times better (mean evidence on its downbeats minus elsewhere) to be chosen.
    """
    best: tuple[float, int, np.ndarray] | None = None
    for i, metre in enumerate(metres):
        position = _viterbi_positions(evidence, metre)
        down = position == 0
        contrast = float(evidence[down].mean() - evidence[~down].mean()) if down.any() and (~down).any() else 0.0
        score = contrast if i == 0 else contrast / _METRE_MARGIN
        if best is None or score > best[0]:
            best = (score, metre, position)
    assert best is not None
    return best[1], best[2]


def _viterbi_positions(evidence: np.ndarray, metre: int) -> np.ndarray:
    n = evidence.shape[0]
    if n == 0:
        return np.zeros(0, dtype=int)
    # Emission: a downbeat earns its evidence, other positions share its opposite.
    emit = np.tile(-evidence[:, None] / max(metre - 1, 1), (1, metre))
    emit[:, 0] = evidence
    stay = np.log1p(-_PHASE_JUMP_P)
    jump = np.log(_PHASE_JUMP_P / max(metre - 1, 1))
    trans = np.full((metre, metre), jump)
    for k in range(metre):
        trans[k, (k + 1) % metre] = stay
    score = emit[0].copy()
    back = np.zeros((n, metre), dtype=int)
    for t in range(1, n):
        cand = score[:, None] + trans
        back[t] = np.argmax(cand, axis=0)
        score = cand[back[t], np.arange(metre)] + emit[t]
    path = np.zeros(n, dtype=int)
    path[-1] = int(np.argmax(score))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def vocal_activity(vocal_db: np.ndarray, mix_db: np.ndarray) -> np.ndarray:
    """0/1 per frame: the vocal stem is near its own loud level and not buried under the mix.

    Relative thresholds keep it level-independent; the second condition ignores separation bleed,
    which follows the mix but sits well below it.
    """
    loud = float(np.percentile(vocal_db, 95)) if vocal_db.size else _FLOOR_DB
    active = (vocal_db > loud - VOCAL_RANGE_DB) & (vocal_db > mix_db + VOCAL_TO_MIX_DB) & (vocal_db > _FLOOR_DB + 20)
    return active.astype(np.float32)


def _frame_rms_db(y: np.ndarray, n_frames: int, hop_length: int) -> np.ndarray:
    import librosa

    rms = librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=hop_length)[0]
    rms = np.pad(rms, (0, max(0, n_frames - rms.shape[0])))[:n_frames]
    return 20 * np.log10(np.maximum(rms, 10 ** (_FLOOR_DB / 20)))


def _power_rms_db(power: np.ndarray) -> np.ndarray:
    """Frame RMS in dBFS from a Hann-windowed power spectrogram (Parseval, window energy removed)."""
    n_fft = 2 * (power.shape[0] - 1)
    window_energy = np.sum(np.hanning(n_fft + 1)[:-1] ** 2)
    spectrum = power.copy()
    spectrum[1:-1] *= 2  # one-sided spectrum
    mean_square = spectrum.sum(axis=0) / (n_fft * window_energy)
    return 10 * np.log10(np.maximum(mean_square, 10 ** (_FLOOR_DB / 10)))


def _beat_mean(x: np.ndarray, beat_frames: np.ndarray, n_frames: int) -> np.ndarray:
    """Mean of ``x`` (dims, frames) over each beat's frames: ``[beat_i, beat_{i+1})``, the last to the end."""
    if beat_frames.size == 0:
        return np.zeros((x.shape[0], 0), dtype=float)
    edges = np.r_[beat_frames, n_frames].astype(int)
    edges = np.clip(edges, 0, n_frames)
    csum = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1, dtype=float)], axis=1)
    counts = np.maximum(edges[1:] - edges[:-1], 1)
    return (csum[:, edges[1:]] - csum[:, edges[:-1]]) / counts


def _zscore(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x.astype(float)
    std = float(x.std())
    return (x - x.mean()) / std if std > 0 else np.zeros_like(x, dtype=float)
