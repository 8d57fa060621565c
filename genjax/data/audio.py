"""Audio modality: variable-length float clips -> fixed-length `audio` in [-1, 1] with a `mask`, mu-law `codes`,
log-mel features, and the writers for samples (.wav) and spectrogram images (.png).

Clips come from `sources.wav_folder` as float32 mono at the config's rate. Every writer goes through
`files.write_atomic`, so an interrupted run never leaves a half-written file under the final name.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from genjax import files
from genjax.errors import UserError

PEAK = 0.95  # peak normalization target: headroom below full scale
RMS = 0.1    # RMS normalization target (about -20 dBFS)
NORMALIZE = ("peak", "rms", "none")


def _mu_law_encode(x, bits, xp):
  mu = 2 ** bits - 1
  y = xp.sign(x) * xp.log1p(mu * xp.abs(x)) / np.log1p(mu)
  return xp.clip(xp.round((y + 1) / 2 * mu), 0, mu).astype(xp.int32)


def _mu_law_decode(codes, bits, xp):
  mu = 2 ** bits - 1
  y = 2 * xp.asarray(codes, xp.float32) / mu - 1
  return xp.sign(y) * xp.expm1(xp.abs(y) * np.log1p(mu)) / mu


def mu_law_encode(x, bits=8):
  """Floats in [-1, 1] -> ints in [0, 2**bits) (companded, as in WaveNet/SampleRNN); numpy, for the data loader."""
  return _mu_law_encode(np.asarray(x), bits, np)


def mu_law_decode(codes, bits=8):
  """Codes -> float32 in [-1, 1]; the inverse of `mu_law_encode` up to its quantization."""
  return _mu_law_decode(codes, bits, np)


def mu_law_encode_jnp(x, bits=8):
  """`mu_law_encode` in jax.numpy, for use inside jit (same rounding, so the same codes)."""
  return _mu_law_encode(jnp.asarray(x), bits, jnp)


def mu_law_decode_jnp(codes, bits=8):
  """`mu_law_decode` in jax.numpy, e.g. to turn sampled codes back into waveforms on device."""
  return _mu_law_decode(codes, bits, jnp)


def gain(clip, how):
  """The factor that normalizes the whole clip: its peak to PEAK or its RMS to RMS (then clipped to [-1, 1] by
  the transform), or 1 for 'none' and for silence."""
  if how not in NORMALIZE:
    raise UserError(f"data.normalize={how!r} must be one of {', '.join(NORMALIZE)}")
  clip = np.asarray(clip, np.float32)
  if how == "none" or not len(clip):
    return np.float32(1.0)
  level = np.abs(clip).max() if how == "peak" else np.sqrt(np.mean(np.square(clip, dtype=np.float64)))
  return np.float32(1.0) if level < 1e-6 else np.float32((PEAK if how == "peak" else RMS) / level)


def gains(clips, how):
  """float32 [N]: each clip's `gain`, computed once at load so batches scale their crops with one multiply."""
  return np.array([gain(c, how) for c in clips], np.float32)


def transform(length, train=False, normalize="peak"):
  """The audio batch transform: {'audio': object array [B] of clips, 'gain'?, 'label'?} ->
  {'audio': float32 [B, length], 'mask': float32 [B, length], 'label'?}.

  Each clip is cropped or zero-padded to `length` (a slice copy per clip, the only per-example step), then
  scaled by its whole-clip `gain` (from `gains(clips, normalize)`), so a crop keeps the recording's level;
  RMS gains can overshoot and are clipped to [-1, 1] (peak gains stop at PEAK). Eval (train=False) takes the
  centre crop. Train draws each crop's start from `rng`, which `pipeline.Stream` seeds from (seed, batch
  index): a resumed run sees the same crops. `fn.random` tells the pipeline to pass one. Mu-law codes are
  computed in the jitted step (`mu_law_encode_jnp`).
  """
  if int(length) < 1:
    raise UserError(f"audio clip length {length} must be a positive number of samples")
  gain(np.zeros(0), normalize)  # check the setting now, not at the first batch

  def apply(batch, rng=None):
    clips = batch["audio"]
    sizes = np.array([len(c) for c in clips], np.int64)
    room = np.maximum(sizes - length, 0)
    starts = rng.integers(0, room + 1) if train else room // 2
    audio, mask = np.zeros((2, len(clips), length), np.float32)
    for row, real, clip, start in zip(audio, mask, clips, starts):
      piece = clip[start:start + length]
      row[:len(piece)], real[:len(piece)] = piece, 1.0
    if "gain" in batch:
      audio *= np.asarray(batch["gain"], np.float32)[:, None]
      if normalize == "rms":
        np.clip(audio, np.float32(-1), np.float32(1), out=audio)
    out = {"audio": audio, "mask": mask}
    if "label" in batch:
      out["label"] = np.asarray(batch["label"], np.int32)
    return out

  apply.random = train
  return apply


def write_wav(path, audio, rate):
  """Float audio [N] in [-1, 1] as a 16-bit PCM mono WAV, written atomically; returns `path`.

  Scaled by 32768 and clipped to int16, the inverse of how soundfile reads 16-bit PCM: error <= 1/32768.
  """
  import soundfile
  audio = np.asarray(audio, np.float64).reshape(-1)
  pcm = np.clip(np.round(audio * 32768), -32768, 32767).astype(np.int16)
  return files.write_atomic(path, lambda f: soundfile.write(f, pcm, int(rate), subtype="PCM_16", format="WAV"))


def hz_to_mel(f):
  """HTK mel scale."""
  return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)


def mel_to_hz(m):
  return 700.0 * (10.0 ** (np.asarray(m, np.float64) / 2595.0) - 1.0)


def mel_band_edges(rate, mels=40, fmin=0.0, fmax=None):
  """mels + 2 frequencies (Hz), equally spaced in mel: band i rises from edge i to i+1 and falls to i+2."""
  fmax = rate / 2 if fmax is None else fmax
  return mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), mels + 2))


@functools.lru_cache(maxsize=16)
def mel_filterbank(rate, n_fft=256, mels=40, fmin=0.0, fmax=None):
  """float32 [n_fft // 2 + 1, mels]: HTK-spaced triangles of peak 1, weighted on each FFT bin's exact frequency.

  Built in numpy once per setting (a constant inside jit). Weights are computed from Hz distances, not
  snapped to bins, so at 8 kHz with n_fft=256 (31 Hz bins) even the narrow low bands touch a bin.
  """
  edges = mel_band_edges(rate, mels, fmin, fmax)
  freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
  lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
  up, down = (freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)
  bank = np.maximum(0.0, np.minimum(up, down)).T.astype(np.float32)
  if (bank.max(axis=0) == 0).any():
    raise UserError(f"{mels} mel bands are too narrow for n_fft={n_fft} at {rate} Hz (some cover no FFT bin); "
                    f"use fewer mels or a larger n_fft")
  bank.setflags(write=False)
  return bank


@functools.partial(jax.jit, static_argnames=("rate", "n_fft", "hop", "mels"))
def log_mel(audio, rate, n_fft=256, hop=128, mels=40):
  """Log mel power spectrogram: [N] -> [frames, mels] or [B, N] -> [B, frames, mels], frames = 1 + N // hop.

  jax.numpy, jitted with the settings static: one compile per input shape, and it nests inside jit. Frames are
  centred (the signal is zero-padded by n_fft // 2 on each side) and Hann-windowed. Values are log(power + 1e-6).
  """
  audio = jnp.asarray(audio, jnp.float32)
  n = audio.shape[-1]
  frames = 1 + n // hop
  padded = jnp.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(n_fft // 2, n_fft // 2)])
  index = np.arange(frames)[:, None] * hop + np.arange(n_fft)[None, :]  # [frames, n_fft], numpy: static
  window = np.hanning(n_fft + 1)[:-1].astype(np.float32)  # periodic Hann
  power = jnp.square(jnp.abs(jnp.fft.rfft(padded[..., index] * window, axis=-1)))
  return jnp.log(power @ mel_filterbank(int(rate), n_fft, mels) + 1e-6)


def spectrogram_png(clips, rate, path, n_fft=256, hop=128, mels=40, scale=3, floor_db=80.0):
  """One greyscale PNG of the clips' log-mel spectrograms stacked top to bottom, low frequencies at the bottom.

  Loud is bright; one colour range for all clips (the loudest bin down to `floor_db` below it), so their
  levels compare. Each time-frequency cell is `scale` pixels square; a white line separates the clips.
  Written atomically; returns `path`.
  """
  from PIL import Image
  clips = [np.asarray(c, np.float32).reshape(-1) for c in clips]
  if not clips:
    raise UserError("spectrogram_png needs at least one clip")
  width = max(len(c) for c in clips)
  batch = np.stack([np.pad(c, (0, width - len(c))) for c in clips])
  db = np.asarray(log_mel(batch, rate, n_fft, hop, mels)) * (10 / np.log(10))  # [B, frames, mels], dB
  db = np.maximum(db, db.max() - floor_db)
  levels = np.round(255 * (db - db.min()) / max(db.max() - db.min(), 1e-6)).astype(np.uint8)
  rows = []
  for i, spec in enumerate(levels):
    frames = 1 + len(clips[i]) // hop  # frames past a clip's end stay dark
    spec = np.where(np.arange(spec.shape[0])[:, None] < frames, spec, 0)
    rows.append(np.repeat(np.repeat(spec.T[::-1], scale, 0), scale, 1))  # [mels, frames], high mels on top
    rows.append(np.full((1, rows[-1].shape[1]), 255, np.uint8))
  image = Image.fromarray(np.concatenate(rows[:-1]))
  return files.write_atomic(path, lambda f: image.save(f, format="PNG"))
