"""Text modality: characters <-> `tokens` int32 [B, T+1] windows over a vocabulary saved with the run;
samples as .txt."""

import hashlib
import os

import numpy as np

from genjax.config import require
from genjax.data import text
from genjax.errors import UserError
from genjax.tasks import common


class Text:
  name, unit, example = "text", "char", "sequences"

  @staticmethod
  def check_config(config):
    require(config.data.seq_len >= 2, f"data.seq_len={config.data.seq_len} must be at least 2")
    require(0 < config.data.val_fraction < 1, f"data.val_fraction={config.data.val_fraction} must be in (0, 1)")

  @staticmethod
  def load_data(config, binary=False):
    """Training windows and validation chunks of `data.seq_len + 1` characters (`binary` is for images)."""
    del binary
    train, val = text.load(config.data)
    vocab = text.Vocab.build(train, val)
    meta = {"vocab": vocab.chars, "train_chars": len(train), "val_chars": len(val),
            "fingerprint": hashlib.sha256(train.encode("utf-8")).hexdigest()}
    seq = config.data.seq_len + 1
    identity = lambda x: x  # noqa: E731  (windows are already token arrays)
    return common.Data(train=text.Windows(vocab.encode(train), seq), eval=text.Chunks(vocab.encode(val), seq),
                       transform=identity, eval_transform=identity, meta=meta)

  def __init__(self, config, meta):
    self.config, self.vocab = config, text.Vocab(meta["vocab"])
    self.vocab_size = len(self.vocab)

  @staticmethod
  def tokens(batch):
    return batch["tokens"]

  @staticmethod
  def mask(batch):
    """Every character of a window is real text."""
    del batch

  def start_ids(self, prompt, n):
    """The prompt's ids for n samples ([n, P]); an empty prompt starts at a newline where there is one."""
    prompt = prompt or ("\n" if "\n" in self.vocab.index else self.vocab.chars[0])
    self.vocab.check_prompt(prompt)
    return np.broadcast_to(self.vocab.encode(prompt), (n, len(prompt)))

  def decode_tokens(self, ids):
    return [self.vocab.decode(row) for row in np.asarray(ids)]

  def quality(self, generate, data, n=None, log=print):
    del generate, data, n, log
    return {}  # text metrics need a reference corpus and a judge model (next issue)

  @staticmethod
  def write_samples(samples, stem):
    """The samples as text at `stem`.txt; returns its path."""
    path = stem + ".txt"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
      f.write("\n\n=====\n\n".join(samples) + "\n")
    os.replace(tmp, path)
    return path

  @staticmethod
  def tensorboard(tb, step, samples):
    tb.add_text("samples", samples[0], step)

  @staticmethod
  def write_separate(samples, stem):
    raise UserError("--separate writes one file per sample for images and audio; text samples go in one .txt")
