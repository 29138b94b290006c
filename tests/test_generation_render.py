"""Autoencoders (stft-pca, oobleck) and the flow-matching renderer: shapes, exact hops, reconstruction quality,
windowed sampling, determinism, overfitting one example, and the errors users meet."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from songprep.errors import ModelNotFoundError, SongprepError, UsageError
from songprep.generation.autoencoder import (
    AudioAutoencoder,
    AutoencoderConfig,
    StftPcaAutoencoder,
    build_autoencoder,
    log_spectral_distance,
)
from songprep.generation.renderer import TRACKS, FlowRenderer, RendererConfig, window_starts, window_weights

RATE, HOP = 48000, 1920
TINY_OOBLECK = dict(kind="oobleck", latent_dim=4, decoder_channels=8, channel_multiples=(1, 2, 2, 2, 2))


def synth_song(seconds: float = 6.0, seed: int = 0) -> np.ndarray:
    """(2, N) float32 at 48 kHz: panned harmonic notes on a 4 Hz grid with decaying envelopes, noise hits."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(2 * RATE // 4) / RATE
    out = np.zeros((2, n))
    beat = RATE // 4
    for k, start in enumerate(range(0, n - beat, beat)):
        f0 = 110 * 2 ** (rng.integers(0, 24) / 12)
        seg = t[: n - start]
        note = sum(np.sin(2 * np.pi * f0 * h * seg) / h for h in range(1, 8)) * np.exp(-seg * 6)
        pan = rng.uniform(0.3, 0.7)
        out[0, start:start + seg.size] += 0.2 * note * (1 - pan)
        out[1, start:start + seg.size] += 0.2 * note * pan
        if k % 2 == 0:
            out[:, start:start + 2000] += 0.1 * rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)
    return out.astype(np.float32)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def song() -> np.ndarray:
    return synth_song()


@pytest.fixture(scope="module")
def fitted_pca(song: np.ndarray) -> StftPcaAutoencoder:
    ae = build_autoencoder(AutoencoderConfig(kind="stft-pca", latent_dim=32, griffin_lim_iters=32))
    ae.fit([song])
    return ae


# --- configs -------------------------------------------------------------------------------------------------
def test_configs_round_trip_and_reject_unknown_keys() -> None:
    ae = AutoencoderConfig(kind="oobleck", latent_dim=8, downsampling_ratios=(2, 4, 4, 6, 10))
    assert AutoencoderConfig.from_dict(ae.to_dict()) == ae
    rc = RendererConfig(layers=3, width=96, heads=6, steps=4, window_frames=40, overlap_frames=8)
    assert RendererConfig.from_dict(rc.to_dict()) == rc
    assert ae.frame_rate == 25.0
    with pytest.raises(UsageError, match="unknown autoencoder config keys: nope"):
        AutoencoderConfig.from_dict({"nope": 1})
    assert isinstance(build_autoencoder(AutoencoderConfig(latent_dim=8)), AudioAutoencoder)
    assert isinstance(build_autoencoder(AutoencoderConfig(**TINY_OOBLECK)), AudioAutoencoder)
    with pytest.raises(UsageError, match="unknown autoencoder kind"):
        build_autoencoder(AutoencoderConfig(kind="mp3"))
    with pytest.raises(UsageError, match="overlap_frames"):
        FlowRenderer(RendererConfig(window_frames=10, overlap_frames=10), 8, 4)


# --- stft-pca ------------------------------------------------------------------------------------------------
def test_stft_pca_hop_is_exact(fitted_pca: StftPcaAutoencoder) -> None:
    for samples, frames in ((3 * HOP, 3), (3 * HOP + 7, 4), (HOP - 1, 1)):
        z = fitted_pca.encode(torch.zeros(2, 2, samples))
        assert z.shape == (2, 32, frames)
        assert fitted_pca.decode(z).shape == (2, 2, frames * HOP)


def test_stft_pca_reconstructs_the_song_it_was_fitted_on(fitted_pca: StftPcaAutoencoder, song: np.ndarray) -> None:
    z = fitted_pca.encode(torch.as_tensor(song)[None])
    assert z.shape == (1, 32, song.shape[1] // HOP)
    assert torch.allclose(z.std(dim=-1), torch.ones(32), atol=0.05)  # whitened: the renderer sees unit-scale targets
    assert z.mean(dim=-1).abs().max() < 0.05
    rebuilt = fitted_pca.decode(z)[0].numpy()[:, :song.shape[1]]
    # measured 2.2 dB (Griffin-Lim alone on exact magnitudes costs about 1.7 dB on a real song); the mean frame,
    # i.e. a decoder that ignores the latents, scores 8.5 dB
    ours = log_spectral_distance(song, rebuilt)
    assert ours < 3.0
    exact = fitted_pca.exact_magnitude_decode(torch.as_tensor(song)[None])[0].numpy()[:, :song.shape[1]]
    assert log_spectral_distance(song, exact) < ours  # phase recovery alone: the floor the PCA adds to
    mean_frame = fitted_pca.decode(torch.zeros_like(z))[0].numpy()[:, :song.shape[1]]
    assert log_spectral_distance(song, mean_frame) > 7.0
    # stereo survives: the channels differ where the notes were panned differently
    assert np.abs(rebuilt[0] - rebuilt[1]).mean() > 0.1 * np.abs(rebuilt).mean()


def test_stft_pca_generalises_to_unseen_audio(fitted_pca: StftPcaAutoencoder) -> None:
    other = synth_song(seed=1)
    rebuilt = fitted_pca.decode(fitted_pca.encode(torch.as_tensor(other)[None]))[0].numpy()[:, :other.shape[1]]
    assert log_spectral_distance(other, rebuilt) < 5.0  # measured 3.8 dB


def test_stft_pca_state_round_trip_and_determinism(fitted_pca: StftPcaAutoencoder, song: np.ndarray) -> None:
    fresh = build_autoencoder(AutoencoderConfig(kind="stft-pca", latent_dim=32, griffin_lim_iters=32))
    with pytest.raises(UsageError, match="not fitted"):
        fresh.encode(torch.zeros(1, 2, HOP))
    fresh.load_state_dict(fitted_pca.state_dict())
    x = torch.as_tensor(song[:, : 20 * HOP])[None]
    z = fitted_pca.encode(x)
    assert torch.equal(fresh.encode(x), z)
    assert torch.equal(fresh.decode(z), fitted_pca.decode(z))
    refit = build_autoencoder(AutoencoderConfig(kind="stft-pca", latent_dim=32))
    refit.fit([song])
    assert torch.allclose(refit.encode(x), z, atol=1e-3)  # the seeded SVD: same waves, same latents
    with pytest.raises(UsageError, match="components"):
        build_autoencoder(AutoencoderConfig(kind="stft-pca", latent_dim=16)).load_state_dict(fitted_pca.state_dict())


def test_stft_pca_decoding_in_slices_changes_nothing(fitted_pca: StftPcaAutoencoder, monkeypatch) -> None:
    import songprep.generation.autoencoder as autoencoder

    z = torch.randn(2, 32, 12, generator=torch.Generator().manual_seed(0))
    whole = fitted_pca.decode(z)
    monkeypatch.setattr(autoencoder, "GRIFFIN_LIM_BINS_PER_PASS", 1)  # one channel of one song per pass
    sliced = fitted_pca.decode(z)
    # float32 FFTs of one row and of a batch may round differently, and 32 Griffin-Lim iterations carry that
    # (measured: 1.4e-4 at most on a peak of 3.4, 3.6e-5 relative): far below anything audible
    assert torch.allclose(sliced, whole, atol=1e-3)
    assert float((sliced - whole).norm() / whole.norm()) < 1e-4


def test_stft_pca_fit_needs_enough_frames() -> None:
    ae = build_autoencoder(AutoencoderConfig(kind="stft-pca", latent_dim=32))
    with pytest.raises(UsageError, match="more than latent_dim=32 frames"):
        ae.fit([np.zeros((2, 10 * HOP), np.float32)])
    with pytest.raises(UsageError, match="channels=2"):
        ae.fit([np.zeros(10 * HOP, np.float32)])


@pytest.mark.slow
def test_stft_pca_round_trip_on_a_ground_truth_song(truth_corpus) -> None:
    from songprep.audio import decode, resample

    songs = sorted((truth_corpus / "songs").glob("*.flac"))
    train, held_out = (resample(decode(p), RATE).samples[:, : 20 * RATE] for p in songs[:2])
    ae = build_autoencoder(AutoencoderConfig(kind="stft-pca", latent_dim=64, griffin_lim_iters=32))
    ae.fit([train])
    for wave, floor in ((train, 4.5), (held_out, 6.0)):  # measured 3.4 and 5.1 dB
        rebuilt = ae.decode(ae.encode(torch.as_tensor(np.ascontiguousarray(wave))[None]))[0].numpy()
        assert log_spectral_distance(wave, rebuilt[:, : wave.shape[1]]) < floor


# --- oobleck -------------------------------------------------------------------------------------------------
def test_oobleck_random_weights_exact_hop_and_normalised_latents() -> None:
    torch.manual_seed(0)
    ae = build_autoencoder(AutoencoderConfig(**TINY_OOBLECK))
    assert ae.model_rate == RATE  # ratios multiply to 1920: no resampling
    wave = torch.as_tensor(synth_song(1.0))[None]
    z = ae.encode(wave[..., : 10 * HOP + 5])
    assert z.shape == (1, 4, 11)
    assert ae.decode(z).shape == (1, 2, 11 * HOP)
    ae.fit([wave[0].numpy()])
    z = ae.encode(wave)
    assert z.mean(-1).abs().max() < 1e-3 and torch.allclose(z.std(-1, unbiased=False), torch.ones(4), atol=1e-3)
    clone = build_autoencoder(AutoencoderConfig(**TINY_OOBLECK))
    clone.load_state_dict(ae.state_dict())
    assert torch.equal(clone.encode(wave), z)


def test_oobleck_tiled_decoding_keeps_the_length_and_the_sound() -> None:
    torch.manual_seed(0)
    whole = build_autoencoder(AutoencoderConfig(**TINY_OOBLECK, tiled=False))
    tiled = build_autoencoder(AutoencoderConfig(**TINY_OOBLECK))
    tiled.load_state_dict(whole.state_dict())
    assert tiled.model.use_tiling and not whole.model.use_tiling
    tiled.model.tile_latent_min_length, tiled.model.tile_latent_overlap = 16, 4  # 50 frames: seven tiles
    z = torch.randn(1, 4, 50, generator=torch.Generator().manual_seed(0))
    a, b = whole.decode(z), tiled.decode(z)
    assert a.shape == b.shape == (1, 2, 50 * HOP)
    assert (a - b).norm() / a.norm() < 0.01  # measured 2e-4: tiles overlap by more than the receptive field


def test_oobleck_pretrained_directory_at_native_hop_is_resampled_to_25_hz(tmp_path) -> None:
    from diffusers import AutoencoderOobleck

    torch.manual_seed(0)  # a Stable-Audio-shaped VAE (hop 2048, 44.1 kHz) saved the way the hub stores it
    vae = AutoencoderOobleck(encoder_hidden_size=8, downsampling_ratios=[2, 4, 4, 8, 8],
                             channel_multiples=[1, 2, 2, 2, 2], decoder_channels=8, decoder_input_channels=4,
                             sampling_rate=44100)
    vae.save_pretrained(tmp_path / "vae")
    ae = build_autoencoder(AutoencoderConfig(kind="oobleck", latent_dim=4, pretrained=str(tmp_path)))
    assert (ae.model_hop, ae.model_rate) == (2048, 51200)
    z = ae.encode(torch.as_tensor(synth_song(0.5))[None])
    assert z.shape == (1, 4, 13)
    assert ae.decode(z).shape == (1, 2, 13 * HOP)
    assert set(ae.state_dict()) == {"latent_mean", "latent_std"}  # weights stay in the pretrained directory
    with pytest.raises(UsageError, match="latent_dim 4"):
        build_autoencoder(AutoencoderConfig(kind="oobleck", latent_dim=64, pretrained=str(tmp_path)))


@pytest.mark.parametrize("name", ["/no/such/stable-audio", "stabilityai/stable-audio-open-1.0"])
def test_missing_pretrained_oobleck_is_one_line(name: str, monkeypatch) -> None:
    monkeypatch.setenv("SONGPREP_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as err:
        build_autoencoder(AutoencoderConfig(kind="oobleck", latent_dim=64, pretrained=name))
    message = str(err.value)
    assert "\n" not in message and "hf auth login" in message and "oobleck" in message
    assert isinstance(err.value, SongprepError)


# --- renderer ------------------------------------------------------------------------------------------------
VOCAB, DIM = 32, 8
TINY = RendererConfig(layers=2, width=64, heads=4, steps=8, window_frames=48, overlap_frames=12)


def _example(frames: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, VOCAB, (1, 3, frames), generator=g), torch.randn(1, DIM, frames, generator=g)


def test_window_starts_cover_the_song_with_full_windows() -> None:
    assert window_starts(40, 48, 12) == [0]
    for frames in (49, 84, 85, 200, 1001):
        starts = window_starts(frames, 48, 12)
        assert starts[0] == 0 and starts[-1] + 48 == frames
        assert all(b - a <= 48 - 12 for a, b in zip(starts, starts[1:]))  # at least the overlap is shared
    w = window_weights(48, 12)
    assert w.min() > 0 and w[12:-12].eq(1).all() and torch.allclose(w[:12], w[-12:].flip(0))


def test_loss_is_a_scalar_with_gradients_everywhere() -> None:
    torch.manual_seed(0)
    renderer = FlowRenderer(TINY, VOCAB, DIM)
    tokens, latents = _example()
    track = torch.tensor([0])
    loss = renderer.loss(tokens, latents, track, generator=torch.Generator().manual_seed(0))
    assert loss.shape == () and torch.isfinite(loss)
    loss.backward()
    torch.optim.SGD(renderer.parameters(), lr=0.1).step()  # the output layer starts at zero (DiT init)
    renderer.zero_grad()
    renderer.loss(tokens, latents, track, generator=torch.Generator().manual_seed(0)).backward()
    unused = {f"token_embed.{s}.weight" for s in range(3)} | {"track_embed.weight"}  # only the rows used move
    for name, p in renderer.named_parameters():
        assert p.grad is not None and (p.grad.abs().sum() > 0 or name in unused), name
    assert renderer.track_embed.weight.grad[0].abs().sum() > 0


def test_loss_ignores_padded_frames() -> None:
    torch.manual_seed(0)
    renderer = FlowRenderer(TINY, VOCAB, DIM)
    tokens, latents = _example(40)
    mask = torch.arange(40)[None] < 30
    other_tokens, other_latents = tokens.clone(), latents.clone()
    other_tokens[..., 30:] = 0
    other_latents[..., 30:] = 100.0
    with torch.no_grad():
        torch.nn.init.normal_(renderer.proj_out.weight)  # a non-trivial output so the check can fail
        a = renderer.loss(tokens, latents, torch.tensor([2]), torch.Generator().manual_seed(3), mask=mask)
        b = renderer.loss(other_tokens, other_latents, torch.tensor([2]), torch.Generator().manual_seed(3), mask=mask)
    assert torch.allclose(a, b, rtol=1e-5)


def test_sample_shapes_short_and_windowed_and_deterministic() -> None:
    torch.manual_seed(0)
    renderer = FlowRenderer(TINY, VOCAB, DIM).eval()
    with torch.no_grad():
        torch.nn.init.normal_(renderer.proj_out.weight, std=0.1)
    for frames in (7, 48, 131):  # 131 frames: three windows of 48
        tokens = torch.randint(0, VOCAB, (2, 3, frames))
        track = torch.tensor([0, 2])
        out = renderer.sample(tokens, track, steps=3, generator=torch.Generator().manual_seed(1))
        assert out.shape == (2, DIM, frames) and torch.isfinite(out).all()
        again = renderer.sample(tokens, track, steps=3, generator=torch.Generator().manual_seed(1))
        assert torch.equal(out, again)
        other = renderer.sample(tokens, track, steps=3, generator=torch.Generator().manual_seed(2))
        assert not torch.allclose(out, other)


def test_batched_windows_equal_windows_one_at_a_time() -> None:
    torch.manual_seed(0)
    batched = FlowRenderer(TINY, VOCAB, DIM).eval()
    with torch.no_grad():
        torch.nn.init.normal_(batched.proj_out.weight, std=0.1)
    one_by_one = FlowRenderer(replace(TINY, window_batch=1), VOCAB, DIM).eval()
    one_by_one.load_state_dict(batched.state_dict())
    tokens, track = torch.randint(0, VOCAB, (2, 3, 131)), torch.tensor([1, 2])  # three windows of 48
    a = batched.sample(tokens, track, steps=2, generator=torch.Generator().manual_seed(0))
    b = one_by_one.sample(tokens, track, steps=2, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(a, b, atol=1e-5)  # rows, tracks and windows line up in the batched pass


def test_renderer_rejects_bad_inputs() -> None:
    renderer = FlowRenderer(TINY, VOCAB, DIM)
    tokens, latents = _example()
    with pytest.raises(UsageError, match=r"tokens must be in \[0, 32\)"):
        renderer.sample(tokens + VOCAB, torch.tensor([0]))
    with pytest.raises(UsageError, match="track must be"):
        renderer.sample(tokens, torch.tensor([len(TRACKS)]))
    with pytest.raises(UsageError, match="latents must be"):
        renderer.loss(tokens, latents[..., :-1], torch.tensor([0]))
    with pytest.raises(UsageError, match=r"tokens must be \[B, 3, T\]"):
        renderer.loss(tokens[:, :2], latents, torch.tensor([0]))


@pytest.fixture(scope="module")
def overfitted() -> tuple[FlowRenderer, torch.Tensor, torch.Tensor, list[float]]:
    """The tiny renderer trained 150 steps on one token -> latent pair (track 1)."""
    torch.manual_seed(0)
    renderer = FlowRenderer(TINY, VOCAB, DIM)
    tokens, target = _example()
    optimiser = torch.optim.AdamW(renderer.parameters(), lr=3e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(150):
        loss = renderer.loss(tokens.repeat(8, 1, 1), target.repeat(8, 1, 1), torch.ones(8, dtype=torch.long),
                             generator=g)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return renderer.eval(), tokens, target, losses


def test_renderer_overfits_one_example(overfitted) -> None:
    renderer, tokens, target, losses = overfitted
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) / 10  # measured 1.74 -> 0.07
    for seed in range(2):
        out = renderer.sample(tokens, torch.tensor([1]), generator=torch.Generator().manual_seed(seed))
        assert (out - target).norm() / target.norm() < 0.25  # measured 0.08-0.10 with 8 steps
    noise = torch.randn(target.shape, generator=torch.Generator().manual_seed(0))
    assert (noise - target).norm() / target.norm() > 1.0  # what an untrained sampler would return


def test_windowed_sampling_keeps_a_learnt_example_across_window_seams(overfitted) -> None:
    renderer, tokens, target, _ = overfitted
    out = renderer.sample(tokens.repeat(1, 1, 3), torch.tensor([1]), generator=torch.Generator().manual_seed(0))
    assert out.shape == (1, DIM, 120) and renderer.cfg.window_frames < 120
    expected = target.repeat(1, 1, 3)
    assert (out - expected).norm() / expected.norm() < 0.35  # measured 0.15 for two windows
