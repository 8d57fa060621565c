"""Audio modality: a folder of clips with a manifest -> fixed-length `audio` float32 [B, N] in [-1, 1] with a
`mask` of the real samples and the `label`; 8-bit mu-law codes for autoregressive models; samples as 16-bit
WAVs beside a spectrogram PNG; IS/FID/KID on genjax's own spoken-digit classifier over log-mel features.
"""

import hashlib
import os

import jax
import jax.numpy as jnp
import numpy as np

from genjax.config import require
from genjax.data import audio, sources
from genjax.errors import UserError
from genjax.eval import classifier
from genjax.modalities.image import scores
from genjax.tasks import common

MAX_CLIPS = 4096          # clips generated per call
FEATURE_CHUNK = 500       # clips per log-mel call
CLASSIFIER_SECONDS = 1.024  # the classifier hears this much of every clip (8,192 samples at 8 kHz)


def with_gains(source, how):
  """`source` with each clip's normalizing `gain` beside it (computed once here, applied per batch)."""
  return sources.ArraySource(dict(source.arrays, gain=audio.gains(source.arrays["audio"], how)))


class Audio:
  name, unit, example = "audio", "sample", "clips"
  vocab_size = 256  # 8-bit mu-law codes

  @staticmethod
  def check_config(config):
    d = config.data
    require(d.rate >= 1000, f"data.rate={d.rate} must be a sample rate in Hz (FSDD: 8000)")
    require(d.length >= 2, f"data.length={d.length} must be at least 2 samples")
    require(d.eval_length >= 0, f"data.eval_length={d.eval_length} must be 0 (= data.length) or a length")
    require(d.normalize in audio.NORMALIZE, f"data.normalize={d.normalize!r} must be one of {audio.NORMALIZE}")
    require(d.on_bad in ("error", "skip"), f"data.on_bad={d.on_bad!r} must be 'error' or 'skip'")
    require(d.on_rate_mismatch in ("resample", "refuse"),
            f"data.on_rate_mismatch={d.on_rate_mismatch!r} must be 'resample' or 'refuse'")
    require(d.stereo in ("downmix", "refuse"), f"data.stereo={d.stereo!r} must be 'downmix' or 'refuse'")

  @staticmethod
  def load_data(config, binary=False, log=print):
    """Train and test clips from a folder with a manifest (`binary` is for images)."""
    del binary
    d = config.data
    splits = {}
    for split in ("train", "test"):
      splits[split] = sources.wav_folder(d.path, split, d.rate, manifest=d.manifest, on_bad=d.on_bad,
                                         on_rate_mismatch=d.on_rate_mismatch, stereo=d.stereo)
      if splits[split].skipped:
        log(f"{split}: " + sources.skipped_summary(splits[split].skipped, len(splits[split])))
    train, test = (with_gains(splits[s], d.normalize) for s in ("train", "test"))
    lengths = b"".join(np.asarray([len(a) for a in src.arrays["audio"]], np.int64).tobytes() for src in (train, test))
    meta = {"rate": d.rate, "length": d.length, "train_clips": len(train), "test_clips": len(test),
            "fingerprint": f"{d.path}:{d.manifest}:{len(train)}:{hashlib.sha256(lengths).hexdigest()[:16]}"}
    transform, eval_transform = Audio.transforms(config)
    return common.Data(train=train, eval=test, transform=transform, eval_transform=eval_transform, meta=meta,
                       test=test)

  @staticmethod
  def transforms(config):
    """(training, held-out) batch transforms: a random crop of data.length samples, a centre crop of
    data.eval_length, each normalized by its clip's gain."""
    d = config.data
    return (audio.transform(d.length, True, d.normalize),
            audio.transform(d.eval_length or d.length, False, d.normalize))

  def __init__(self, config, meta):
    self.config, self.rate = config, meta["rate"]
    self.shape = (config.data.length, 1)
    self._real = None  # (data, train features, test features)

  @staticmethod
  def signal(batch):
    """Waveforms [B, N, 1] in [-1, 1]: what GAN and VAE networks read (padding is silence)."""
    return batch["audio"][..., None]

  @staticmethod
  def tokens(batch):
    return audio.mu_law_encode_jnp(batch["audio"])

  @staticmethod
  def mask(batch):
    return batch["mask"]

  @staticmethod
  def start_ids(prompt, n):
    """Every clip starts from silence (the mu-law code of 0); audio takes no text prompt."""
    if prompt:
      raise UserError("--prompt is for text models; audio samples start from silence")
    return np.broadcast_to(audio.mu_law_encode(np.zeros(1, np.float32)), (n, 1))

  @staticmethod
  def decode_tokens(ids):
    return audio.mu_law_decode(ids)

  @staticmethod
  def decode_signal(x):
    return np.clip(np.asarray(x, np.float32)[..., 0], -1.0, 1.0)

  @staticmethod
  def check_request(n):
    if n < 1 or n > MAX_CLIPS:
      raise UserError(f"asked for {n} clips; ask for 1 to {MAX_CLIPS} per call")

  def features(self, clips):
    """log-mel 'images' [N, frames, mels, 1] of clips padded or cut to the classifier's length."""
    length = int(round(CLASSIFIER_SECONDS * self.rate))
    fixed = np.zeros((-(-len(clips) // FEATURE_CHUNK) * FEATURE_CHUNK, length), np.float32)  # one shape, one compile
    for i, c in enumerate(clips):
      fixed[i, :min(len(c), length)] = c[:length]
    mel = np.concatenate([np.asarray(audio.log_mel(jnp.asarray(fixed[i:i + FEATURE_CHUNK]), self.rate))
                          for i in range(0, len(fixed), FEATURE_CHUNK)])[:len(clips)]
    return ((mel + 12.0) / 12.0)[..., None]  # log(1e-5) ~ -11.5 maps to ~0: a range the CNN trains on well

  def _real_features(self, data):
    """The train and test clips' features, computed once per data bundle: every periodic evaluation reuses them."""
    if self._real is None or self._real[0] is not data:
      self._real = (data, self.features(data.train.arrays["audio"]), self.features(data.test.arrays["audio"]))
    return self._real[1:]

  def quality(self, generate, data, n=None, log=print):
    """IS/FID/KID of n clips `generate(rng, n)` against the test clips on the spoken-digit classifier's
    features, with the real-data ceiling (test against train) beside them."""
    cfg = self.config
    n = n or cfg.eval_quality_samples
    train, test = data.train.arrays, data.test.arrays
    if (train["label"] < 0).any():
      log("IS/FID/KID skipped: genjax's spoken-digit classifier needs labelled clips (a 'digit' column)")
      return {}
    f_train, f_test = self._real_features(data)
    name = f"{cfg.data.path.strip('/').replace('/', '_')}-{self.rate}hz-logmel-{cfg.eval_classifier_steps}steps"
    clf = classifier.load_or_train(name, f_train, train["label"], f_test, test["label"],
                                   steps=cfg.eval_classifier_steps, log=log)
    fake = np.concatenate([generate(jax.random.PRNGKey(1000 + i), min(MAX_CLIPS, n - i))
                           for i in range(0, n, MAX_CLIPS)])
    return scores(clf, self.features(fake), f_test, f_train, n)

  def write_samples(self, samples, stem):
    """`stem`/0000.wav, ... (16-bit PCM) and `stem`_spectrogram.png beside them; returns the folder."""
    for i, clip in enumerate(samples):
      audio.write_wav(os.path.join(stem, f"{i:04d}.wav"), clip, self.rate)
    audio.spectrogram_png(samples[:16], self.rate, stem + "_spectrogram.png")
    return stem

  write_separate = write_samples  # clips are one file each already

  def tensorboard(self, tb, step, samples):
    for i, clip in enumerate(samples[:4]):
      tb.add_audio(f"samples/{i}", np.asarray(clip), step, sample_rate=self.rate)

