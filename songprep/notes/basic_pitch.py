"""Spotify's basic-pitch (ICASSP 2022) run from its ONNX file with onnxruntime: no TensorFlow.

The model ships inside the ``basic-pitch`` wheel (``saved_models/icassp_2022/nmp.onnx``). Audio is cut
like basic-pitch does (22050 Hz, 2 s windows, 30 output frames of overlap of which half is dropped on
each side), but every kept frame gets its exact time from its window's start, instead of basic-pitch's
fixed drift correction. Notes are decoded the basic-pitch way (onset peaks, then frame activations held
until they fade for ``ENERGY_TOLERANCE`` frames, then leftover energy as onset-less notes); the
monophonic mode keeps, at each frame, only the strongest sounding note, and joins a pitch the model
hears re-struck with no dip in level between (a new syllable sung legato on the same note).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from songprep.errors import ModelNotFoundError
from songprep.notes.base import mono_at, sort_notes, within
from songprep.records import Note

SAMPLE_RATE = 22050
FFT_HOP = 256
WINDOW = 2 * SAMPLE_RATE - FFT_HOP  # 43844 samples in, 172 frames out
OVERLAP_FRAMES = 30
OVERLAP = OVERLAP_FRAMES * FFT_HOP
WINDOW_HOP = WINDOW - OVERLAP
MIDI_OFFSET = 21  # output bin 0 is A0
N_PITCHES = 88
MODEL_FILE = "saved_models/icassp_2022/nmp.onnx"
INSTALL = ("`pip install --no-deps basic-pitch==0.4.0` (--no-deps: its wheel declares TensorFlow, which the "
           "ONNX model does not need; onnxruntime runs it)")
#: basic-pitch's defaults (``predict``): onset and frame thresholds, shortest note (frames), fade tolerance.
ONSET_THRESHOLD, FRAME_THRESHOLD = 0.5, 0.3
MIN_NOTE_FRAMES = 11  # 127.7 ms at 86 frames/s
ENERGY_TOLERANCE = 11
#: Monophonic (vocal) notes are limited to the singing range, C2..C6.
VOCAL_RANGE = (36, 84)
#: Monophonic runs shorter than this are dropped.
MIN_MONO_FRAMES = 6
#: Monophonic: a pitch re-struck within this many frames is the same note sung on (a new syllable, legato)
#: unless the level dips by ``LEGATO_DIP_DB`` between them (a breath or a gap: a new note).
MERGE_GAP_FRAMES = 2
LEGATO_DIP_DB = 20.0
LEVEL_WINDOW = 1024


def model_path() -> Path:
    """The ONNX file inside the installed basic-pitch package, without importing it (its import probes TF)."""
    try:
        spec = importlib.util.find_spec("basic_pitch")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"basic-pitch is not installed: {INSTALL}")
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise ModelNotFoundError(f"basic-pitch's ONNX model is missing ({path}); reinstall it: {INSTALL}")
    return path


@dataclass
class Activations:
    """Model outputs, frame-wise over the whole input, and each frame's time in seconds."""

    note: np.ndarray  # (frames, 88)
    onset: np.ndarray  # (frames, 88)
    times: np.ndarray  # (frames,)
    level_db: np.ndarray  # (frames,) input RMS around each frame, dBFS


Event = tuple[int, int, int, float]  # start frame, end frame (exclusive), MIDI pitch, mean activation


def _decode(act: Activations, min_pitch: int, max_pitch: int, melodia: bool = True) -> list[Event]:
    """basic-pitch's polyphonic note decoding: (start frame, end frame, MIDI pitch, amplitude)."""
    from scipy.signal import argrelmax

    frames, onsets = act.note.copy(), act.onset.copy()
    lo, hi = min_pitch - MIDI_OFFSET, max_pitch - MIDI_OFFSET + 1
    for m in (frames, onsets):
        m[:, :max(lo, 0)] = 0
        m[:, hi:] = 0
    # Onsets inferred from rises in the frame activations, as basic-pitch does (n_diff = 2).
    diffs = [np.concatenate([np.zeros((k, frames.shape[1])), frames[k:] - frames[:-k]]) for k in (1, 2)]
    inferred = np.maximum(np.min(diffs, axis=0), 0)
    inferred[:2] = 0
    inferred *= onsets.max() / max(inferred.max(), 1e-9)
    onsets = np.maximum(onsets, inferred)

    n = len(frames)
    peaks = np.zeros_like(onsets)
    t_idx, f_idx = argrelmax(onsets, axis=0)
    peaks[t_idx, f_idx] = onsets[t_idx, f_idx]
    starts = np.argwhere(peaks >= ONSET_THRESHOLD)[::-1]  # backwards in time
    energy = frames.copy()
    events = []
    for start, pitch_bin in starts:
        if start >= n - 1:
            continue
        i, k = start + 1, 0
        while i < n - 1 and k < ENERGY_TOLERANCE:
            k = k + 1 if energy[i, pitch_bin] < FRAME_THRESHOLD else 0
            i += 1
        i -= k
        if i - start <= MIN_NOTE_FRAMES:
            continue
        energy[start:i, max(pitch_bin - 1, 0): pitch_bin + 2] = 0
        events.append((int(start), int(i), int(pitch_bin) + MIDI_OFFSET, float(frames[start:i, pitch_bin].mean())))
    while melodia and energy.size and energy.max() > FRAME_THRESHOLD:
        mid, pitch_bin = np.unravel_index(int(np.argmax(energy)), energy.shape)
        energy[mid, pitch_bin] = 0
        ends = []
        for step in (1, -1):
            i, k = mid + step, 0
            while 0 < i < n - 1 and k < ENERGY_TOLERANCE:
                k = k + 1 if energy[i, pitch_bin] < FRAME_THRESHOLD else 0
                energy[i, max(pitch_bin - 1, 0): pitch_bin + 2] = 0
                i += step
            ends.append(i - step * (1 + k))
        end, start = ends[0], ends[1]
        if end - start <= MIN_NOTE_FRAMES:
            continue
        events.append((int(start), int(end), int(pitch_bin) + MIDI_OFFSET, float(frames[start:end, pitch_bin].mean())))
    return events


def _monophonic(events: list[Event], level_db: np.ndarray) -> list[Event]:
    """At each frame keep the strongest sounding note; join legato re-strikes of one pitch."""
    n_frames = len(level_db)
    owner = np.full(n_frames, -1)
    strength = np.zeros(n_frames)
    for index, (start, end, _, amp) in enumerate(events):
        better = amp > strength[start:end]
        owner[start:end][better] = index
        strength[start:end][better] = amp
    out: list[Event] = []
    edges = np.flatnonzero(np.diff(np.concatenate([[-2], owner, [-2]])))
    for a, b in zip(edges[:-1], edges[1:]):
        index = owner[a]
        if index < 0 or b - a < MIN_MONO_FRAMES:
            continue
        _, _, pitch, amp = events[index]
        if out and out[-1][2] == pitch and a - out[-1][1] <= MERGE_GAP_FRAMES:
            start, end, _, prev_amp = out[-1]
            floor = min(np.median(level_db[start:end]), np.median(level_db[a:b])) - LEGATO_DIP_DB
            if level_db[max(end - 2, start): a + 3].min() >= floor:
                out[-1] = (start, int(b), pitch, max(prev_amp, amp))
                continue
        out.append((int(a), int(b), pitch, amp))
    return out


class BasicPitchTranscriber:
    """Notes from basic-pitch's ONNX model; one onnxruntime session per transcriber."""

    name = "basic-pitch"

    def __init__(self, polyphonic: bool = True) -> None:
        path = model_path()
        try:
            import onnxruntime
        except ImportError as err:
            raise ModelNotFoundError(f"onnxruntime is not installed (basic-pitch needs it): `pip install "
                                     f"onnxruntime`; then {INSTALL}") from err
        from importlib.metadata import PackageNotFoundError, version

        try:
            bp_version = version("basic-pitch")
        except PackageNotFoundError:
            bp_version = "unknown"
        self.version = f"basic-pitch {bp_version} (onnxruntime {onnxruntime.__version__})"
        self.polyphonic = polyphonic
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._input = self.session.get_inputs()[0].name
        names = {o.name for o in self.session.get_outputs()}
        self._outputs = ["StatefulPartitionedCall:1", "StatefulPartitionedCall:2"]  # note, onset
        if not set(self._outputs) <= names:
            raise ModelNotFoundError(f"{path} is not basic-pitch's ICASSP 2022 model (outputs {sorted(names)}); "
                                     f"reinstall: {INSTALL}")

    def activations(self, audio: np.ndarray, sample_rate: int, batch: int = 4) -> Activations:
        """Frame-wise note and onset activations of ``audio``, with exact frame times."""
        y = mono_at(audio, sample_rate, SAMPLE_RATE)
        padded = np.concatenate([np.zeros(OVERLAP // 2, np.float32), y])
        starts = list(range(0, max(len(y), 1), WINDOW_HOP))
        windows = np.zeros((len(starts), WINDOW, 1), np.float32)
        for i, s in enumerate(starts):
            chunk = padded[s: s + WINDOW]
            windows[i, : len(chunk), 0] = chunk
        notes, onsets = [], []
        for b in range(0, len(windows), batch):
            note, onset = self.session.run(self._outputs, {self._input: windows[b: b + batch]})
            notes.append(note)
            onsets.append(onset)
        keep = slice(OVERLAP_FRAMES // 2, -(OVERLAP_FRAMES // 2))
        note_frames, onset_frames = np.concatenate(notes)[:, keep], np.concatenate(onsets)[:, keep]
        per_window = note_frames.shape[1]
        # Kept frame j of window w sits at sample w * WINDOW_HOP + j * FFT_HOP of the unpadded input.
        times = (np.array(starts)[:, None] + np.arange(per_window)[None, :] * FFT_HOP) / SAMPLE_RATE
        note_frames = note_frames.reshape(-1, N_PITCHES)
        onset_frames = onset_frames.reshape(-1, N_PITCHES)
        times = times.reshape(-1)
        # Windows overlap by a fraction of a frame: keep each frame only up to the next window's first.
        valid = np.ones(len(times), bool)
        for w in range(1, len(starts)):
            first = w * per_window
            valid[first - per_window: first] &= times[first - per_window: first] < times[first]
        valid &= times < len(y) / SAMPLE_RATE
        times = times[valid]
        centres = np.rint(times * SAMPLE_RATE).astype(int)
        power = np.concatenate([[0.0], np.cumsum(np.square(y, dtype=np.float64))])
        lo, hi = np.clip(centres - LEVEL_WINDOW // 2, 0, len(y)), np.clip(centres + LEVEL_WINDOW // 2, 0, len(y))
        level_db = 10 * np.log10(np.maximum((power[hi] - power[lo]) / np.maximum(hi - lo, 1), 1e-12))
        return Activations(note_frames[valid], onset_frames[valid], times, level_db)

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> list[Note]:
        act = self.activations(audio, sample_rate)
        if not len(act.times):
            return []
        if self.polyphonic:
            events = _decode(act, MIDI_OFFSET, MIDI_OFFSET + N_PITCHES - 1)
        else:
            events = _monophonic(_decode(act, *VOCAL_RANGE), act.level_db)
        frame_s = FFT_HOP / SAMPLE_RATE
        last = len(act.times) - 1
        notes = [Note(round(float(act.times[a]), 4), round(float(act.times[min(b, last + 1) - 1]) + frame_s, 4),
                      pitch, int(np.clip(round(127 * amp), 1, 127)))
                 for a, b, pitch, amp in events]
        return within(sort_notes(notes), audio, sample_rate)
