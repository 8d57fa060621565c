"""Text modality: characters <-> `tokens` over a vocabulary saved with the run; samples as .txt.

Two units (`data.unit`): 'window' (every `seq_len + 1` consecutive characters: char-RNNs) and 'line' (each
non-empty line on its own, padded with newlines and masked: sentence VAEs and GANs, which model whole
units). GANs read a line as one-hot vectors [seq_len, vocab] and their samples decode by argmax. Sample
quality: character n-gram JSD against the validation split, the judge's NLL per character, and the share of
English words in the training vocabulary or of Tang poems in a regular form, each beside the same number for
real text.
"""

import dataclasses
import hashlib

import jax
import jax.numpy as jnp
import numpy as np

from genjax import files
from genjax.config import require
from genjax.data import text
from genjax.errors import UserError
from genjax.eval import judge, text_quality
from genjax.tasks import common

UNITS = ("window", "line")
MAX_SAMPLES = 4096  # samples per generate call


@dataclasses.dataclass
class Corpus:
  """Both splits as text and as units (lines; None for windows), the reference of the quality metrics."""
  train: str
  val: str
  train_lines: list = None
  val_lines: list = None

  def draw(self, split, n, length, rng):
    """n real units of `split`: lines (with replacement when fewer), or windows of `length` characters."""
    lines = self.train_lines if split == "train" else self.val_lines
    if lines is not None:
      return [lines[i] for i in rng.choice(len(lines), n, replace=n > len(lines))]
    whole = self.train if split == "train" else self.val
    return [whole[s:s + length] for s in rng.integers(0, max(len(whole) - length, 1), n)]


class Text:
  name, unit, example = "text", "char", "sequences"

  @staticmethod
  def check_config(config):
    d = config.data
    require(d.seq_len >= 2, f"data.seq_len={d.seq_len} must be at least 2")
    require(0 < d.val_fraction < 1, f"data.val_fraction={d.val_fraction} must be in (0, 1)")
    require(d.unit in UNITS, f"data.unit={d.unit!r} must be one of {UNITS}")
    require(d.long_lines in text.LONG_LINES, f"data.long_lines={d.long_lines!r} must be one of {text.LONG_LINES}")

  @staticmethod
  def load_data(config, binary=False, log=print):
    """Training units and validation units (`binary` is for images): windows of `data.seq_len + 1`
    characters with chunks that tile the validation text once, or lines."""
    del binary
    d = config.data
    train, val = text.load(d)
    vocab = text.Vocab.build(train + "\n", val)
    meta = {"vocab": vocab.chars, "train_chars": len(train), "val_chars": len(val),
            "fingerprint": hashlib.sha256(train.encode("utf-8")).hexdigest()}
    if d.unit == "line":
      lines = {name: text.lines(split, d.seq_len, d.long_lines, name, log) for name, split in
               (("train", train), ("validation", val))}
      meta.update(train_lines=len(lines["train"]), val_lines=len(lines["validation"]))
      train_src, eval_src = (text.line_source(lines[s], vocab, d.seq_len) for s in ("train", "validation"))
      corpus = Corpus(train, val, lines["train"], lines["validation"])
    else:
      seq = d.seq_len + 1
      train_src, eval_src = text.Windows(vocab.encode(train), seq), text.Chunks(vocab.encode(val), seq)
      corpus = Corpus(train, val)
    transform, eval_transform = Text.transforms(config)
    return common.Data(train=train_src, eval=eval_src, transform=transform, eval_transform=eval_transform,
                       meta=meta, test=corpus)

  @staticmethod
  def transforms(config):
    """(training, held-out) batch transforms: none, units are token arrays already."""
    del config
    return _identity, _identity

  def __init__(self, config, meta):
    self.config, self.vocab = config, text.Vocab(meta["vocab"])
    self.vocab_size = len(self.vocab)
    self.lines = config.data.unit == "line"
    self.shape = (config.data.seq_len, self.vocab_size)  # what a GAN generates: one-hot characters

  @staticmethod
  def tokens(batch):
    return batch["tokens"]

  @staticmethod
  def mask(batch):
    """Real positions of lines; None for windows, where every character is real text."""
    return batch.get("mask")

  def signal(self, batch):
    """A line and its trailing newlines as one-hot vectors [B, seq_len, vocab] (what GAN critics read)."""
    return jax.nn.one_hot(batch["tokens"][:, 1:1 + self.shape[0]], self.vocab_size, dtype=jnp.float32)

  def decode_signal(self, x):
    """Per-position distributions (or one-hot vectors) -> strings by argmax, each ending at its first newline."""
    return [s.split("\n")[0] for s in self.decode_tokens(np.asarray(x).argmax(-1))]

  @staticmethod
  def check_request(n):
    if n < 1 or n > MAX_SAMPLES:
      raise UserError(f"asked for {n} samples; ask for 1 to {MAX_SAMPLES} per call")

  def start_ids(self, prompt, n):
    """The prompt's ids for n samples ([n, P]); an empty prompt starts at a newline where there is one."""
    prompt = prompt or ("\n" if "\n" in self.vocab.index else self.vocab.chars[0])
    self.vocab.check(prompt, "prompt")
    return np.broadcast_to(self.vocab.encode(prompt), (n, len(prompt)))

  def decode_tokens(self, ids):
    return [self.vocab.decode(row) for row in np.asarray(ids)]

  def quality(self, generate, data, n=None, log=print):
    """n samples `generate(rng, k)` (default `eval_quality_samples`) scored against the validation split:
    n-gram JSD, judge NLL per char, word share (English) or format pass rate (Tang poems); each metric's
    `_real` twin scores as many real training units (JSD) or validation units (the others) the same way."""
    cfg, corpus = self.config, data.test
    n = n or cfg.eval_quality_samples
    fake = [s for i in range(0, n, MAX_SAMPLES) for s in generate(jax.random.PRNGKey(1000 + i),
                                                                 min(MAX_SAMPLES, n - i))]
    length = int(np.mean([len(s) for s in fake])) or 1
    rng = np.random.default_rng(0)
    real_train, real_val = corpus.draw("train", n, length, rng), corpus.draw("validation", n, length, rng)
    reference = corpus.val_lines if self.lines else [corpus.val]
    out, real = text_quality.ngram_jsd(fake, reference), text_quality.ngram_jsd(real_train, reference)
    out.update({key + "_real": value for key, value in real.items()})
    judge_model = judge.load_or_train(hashlib.sha256(corpus.train.encode()).hexdigest(), self.vocab,
                                      lambda: self.vocab.encode(corpus.train), cfg.eval_classifier_steps, log)
    out["judge_nll"], out["judge_nll_real"] = judge_model.score(fake), judge_model.score(real_val)
    if cfg.data.source == "tang_poetry":
      titled = not self.lines and cfg.data.get("titles", True)
      out["format_pass"], out["poems"] = text_quality.format_pass_rate(fake, self.lines, titled)
      real = real_val if self.lines else [corpus.val]  # a char-RNN's: every poem of the validation text
      out["format_pass_real"], _ = text_quality.format_pass_rate(real, self.lines, titled)
    else:
      vocabulary = set(text_quality.words([corpus.train]))
      out["word_share"] = text_quality.word_share(fake, vocabulary)
      out["word_share_real"] = text_quality.word_share(real_val, vocabulary)
    return out

  def write_samples(self, samples, stem):
    """The samples at `stem`.txt, one per line for line units, else separated by '=====' lines."""
    return write_text(stem + ".txt", ("\n" if self.lines else "\n\n=====\n\n").join(samples) + "\n")

  def tensorboard(self, tb, step, samples):
    tb.add_text("samples", "  \n".join(samples[:16]) if self.lines else samples[0], step)

  @staticmethod
  def write_separate(samples, stem):
    raise UserError("--separate writes one file per sample for images and audio; text samples go in one .txt")


def _identity(batch, rng=None):
  del rng
  return batch


def write_text(path, content):
  """`content` at `path`, complete or not at all (written aside, then renamed); returns the path."""
  return files.write_atomic(path, content)
