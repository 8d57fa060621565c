"""Audio modality: variable-length float clips -> fixed-length `audio` in [-1, 1] and 8-bit mu-law `codes`."""

import numpy as np


def mu_law_encode(x, bits=8):
  """Floats in [-1, 1] -> ints in [0, 2**bits) (companded, as in WaveNet/SampleRNN)."""
  mu = 2 ** bits - 1
  y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
  return np.clip(np.round((y + 1) / 2 * mu), 0, mu).astype(np.int32)


def mu_law_decode(codes, bits=8):
  mu = 2 ** bits - 1
  y = 2 * np.asarray(codes, np.float32) / mu - 1
  return np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu


def transform(length, codes=False):
  """Pad with silence or crop (from the start, deterministically) to `length` samples."""

  def apply(example):
    clip = np.asarray(example["audio"], np.float32)[:length]
    clip = np.pad(clip, (0, length - len(clip)))
    out = dict(example, audio=clip)
    if codes:
      out["codes"] = mu_law_encode(clip)
    return out

  return apply
