"""describe: LeVo-style ``descriptions`` and their parts (``tags``, ``bpm``, ``key``, ``vocal_gender``).

Reads the decoded audio (and the vocal stem and the words' pitch when earlier stages made them); uses
the shared features (:func:`songprep.features.song_features`: beats for the bpm, chroma for the key, vocal
activity for the sung pitch). Tags come from musicnn's MagnaTagATune and Million Song Dataset models
(:mod:`songprep.describe.tagger`), mapped by :mod:`songprep.describe.vocabulary`.

Options (``stage_options["describe"]``): ``tagger`` (``auto``: musicnn when the package is installed, else
none, with one warning line; ``musicnn``: required; ``none``), ``max_patches`` (3 s patches the tagger
reads, spread evenly over the song; default 20). ``auto`` is resolved before the config is hashed, so the
dataset's hash and provenance say whether tags were made.

Not in the default chain (``prep --describe`` adds it): on CPU it adds 11% to prep time on the 4 real dev
songs (bench/describe.py --cost-only on a quiet machine: 14.5 s on the default chain's 135.5 s) and 23% on
two short synthetic songs (46-47% before the front end's max was taken first), past the 10% a default stage
may cost; most of it is the two taggers' convolutions, and fewer than 12 patches changed two of the four real
songs' genres.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from songprep.describe import compose_description, key_of
from songprep.describe.gender import sung_pitch
from songprep.describe.tempo import bpm_from_beats
from songprep.errors import ModelNotFoundError, UsageError
from songprep.features import song_features
from songprep.records import StageProvenance
from songprep.stages.base import SongItem, Stage, StageContext

log = logging.getLogger(__name__)
TAGGERS = ("auto", "musicnn", "none")
MODELS = ("MTT_musicnn", "MSD_musicnn")
MAX_PATCHES = 20
KNOWN_OPTIONS = ("tagger", "max_patches")


def resolve_tagger(name: str) -> str:
    """``auto`` -> ``musicnn`` when its weights are installed, else ``none`` (saying so in one line)."""
    if name not in TAGGERS:
        raise UsageError(f"unknown tagger {name!r} for stage describe; use one of {', '.join(TAGGERS)}")
    if name != "auto":
        return name
    from songprep.describe.tagger import musicnn_dir

    try:
        musicnn_dir()
    except ModelNotFoundError as err:
        log.warning("songprep: warning: %s; describe writes bpm, key and gender without tags", err)
        return "none"
    return "musicnn"


class DescribeStage(Stage):
    """Writes ``descriptions``, ``tags``, ``bpm``, ``key``, ``vocal_gender``; CPU (the tagger is small)."""

    name = "describe"
    reads = ("audio",)
    writes = ("descriptions", "tags", "bpm", "key", "vocal_gender")

    @classmethod
    def resolve_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        return {**options, "tagger": resolve_tagger(options.get("tagger", "auto"))}

    def __init__(self, config) -> None:
        super().__init__(config)
        unknown = sorted(set(self.options) - set(KNOWN_OPTIONS))
        if unknown:
            raise UsageError(f"unknown option(s) for stage describe: {', '.join(unknown)}; "
                             f"known: {', '.join(KNOWN_OPTIONS)}")
        self.tagger_name = self.options.get("tagger", "auto")
        self.max_patches = int(self.options.get("max_patches", MAX_PATCHES))
        self.taggers: list[Any] = []

    def setup(self, ctx: StageContext) -> None:
        super().setup(ctx)
        name = resolve_tagger(self.tagger_name)
        if name == "musicnn":
            from songprep.describe.tagger import MusicnnTagger

            self.taggers = [MusicnnTagger.load(m) for m in MODELS]

    def provenance(self) -> StageProvenance:
        if not self.taggers:
            return StageProvenance(self.name)
        from songprep.describe.tagger import PACKAGE_VERSION

        return StageProvenance(self.name, "musicnn:" + "+".join(MODELS) + " (torch port)", PACKAGE_VERSION)

    def process(self, item: SongItem) -> SongItem:
        song = item.song
        feats = song_features(item)
        probs = self._tag(feats.mono, feats.sample_rate) if self.taggers else None
        pitch, sings = self._pitch(item, feats)
        desc = compose_description(probs, bpm_from_beats(feats.beats_s), key_of(feats.chroma, feats.frame_rms_db),
                                   pitch, sings)
        song.descriptions, song.tags, song.bpm, song.key = desc.descriptions, desc.tags, desc.bpm, desc.key
        song.vocal_gender = desc.vocal_gender
        return item

    def _tag(self, mono: np.ndarray, sample_rate: int) -> dict[tuple[str, str], float]:
        import librosa
        import torch

        from songprep.describe.tagger import SAMPLE_RATE, log_mel, patches

        y = librosa.resample(mono, orig_sr=sample_rate, target_sr=SAMPLE_RATE)
        batch = patches(log_mel(y))
        if batch.shape[0] > self.max_patches:  # evenly spread, ends included
            batch = batch[np.round(np.linspace(0, batch.shape[0] - 1, self.max_patches)).astype(int)]
        x = torch.from_numpy(batch)
        probs: dict[tuple[str, str], float] = {}
        with torch.no_grad():
            for tagger in self.taggers:
                mean = torch.cat([tagger.net(c) for c in x.split(16)]).mean(dim=0).numpy()
                probs.update({(tagger.model_name[:3], label): float(p) for label, p in zip(tagger.labels, mean)})
        return probs

    def _pitch(self, item: SongItem, feats) -> tuple[float | None, bool]:
        """Median sung pitch (MIDI) and whether the song has singing at all (True when it cannot tell)."""
        from songprep.describe.gender import MIN_SUNG_S

        pitched = [w.pitch for w in item.song.words if w.pitch is not None]
        if len(pitched) >= 8:
            return float(np.median(pitched)), True
        vocals = item.stems.get("vocals")
        if vocals is None or feats.vocal_activity is None:
            return None, True
        hop_s = feats.hop_length / feats.sample_rate
        if feats.vocal_activity.sum() * hop_s < MIN_SUNG_S:
            return None, False
        mono = vocals.samples.mean(axis=0)
        return sung_pitch(mono, vocals.sample_rate, feats.vocal_activity, hop_s), True
