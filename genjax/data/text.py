"""Text modality: a character vocabulary over Unicode code points, splits and training windows."""

import numpy as np

from genjax.data import sources
from genjax.errors import UserError

UNK = "\ufffd"  # stands for validation characters the training split never showed


class Vocab:
  """Characters <-> ids. Built from the training split and saved with the run, so sampling needs no data."""

  def __init__(self, chars):
    self.chars = list(chars)
    self.index = {c: i for i, c in enumerate(self.chars)}
    if len(self.index) != len(self.chars):
      raise ValueError("vocabulary has repeated characters")

  @classmethod
  def build(cls, train_text, other_text=""):
    chars = sorted(set(train_text))
    if set(other_text) - set(chars):
      chars.append(UNK)
    return cls(chars)

  def __len__(self):
    return len(self.chars)

  def encode(self, text):
    unk = self.index.get(UNK)
    ids = [self.index.get(c, unk) for c in text]
    if unk is None and None in ids:
      missing = sorted({c for c in text if c not in self.index})
      raise ValueError(f"characters outside the vocabulary: {missing!r}")
    return np.asarray(ids, np.int32)

  def decode(self, ids):
    return "".join(self.chars[int(i)] for i in ids)

  def check_prompt(self, prompt):
    missing = sorted({c for c in prompt if c not in self.index or c == UNK})
    if missing:
      raise UserError(f"prompt has characters the model never saw: {''.join(missing)!r}; use characters from "
                      f"the training text (the run's vocabulary has {len(self)} symbols)")


def split(text, val_fraction):
  """nanoGPT's split: the first (1 - val_fraction) of the characters train, the rest validate."""
  if not text:
    raise UserError("the text corpus is empty; point --config.data.path at a non-empty UTF-8 file")
  n = int(len(text) * (1 - val_fraction))
  return text[:n], text[n:]


def load(data_cfg):
  """(train text, validation text) for the configured source."""
  kind = data_cfg.source
  if kind == "tfds":
    train, val = sources.tfds_text(data_cfg.tfds_name, data_cfg.tfds_key)
    if not train:
      raise UserError(f"TFDS {data_cfg.tfds_name!r} has no text under key {data_cfg.tfds_key!r}")
    return train, val
  readers = {"pydoc": lambda: sources.embedded_corpus(),
             "text": lambda: sources.read_text_file(data_cfg.path),
             "tang_poetry": lambda: sources.tang_poetry(data_cfg.path)}
  if kind not in readers:
    raise UserError(f"unknown text source {kind!r}; set --config.data.source to one of "
                    f"{sorted(readers) + ['tfds']}")
  return split(readers[kind](), data_cfg.val_fraction)


class Windows:
  """Every window of `length` consecutive ids (random access: grain shuffles the start offsets)."""

  def __init__(self, ids, length):
    if len(ids) < length + 1:
      raise UserError(f"the text has {len(ids)} characters, fewer than one window of {length}; lower "
                      f"--config.data.seq_len or use more text")
    self.ids, self.length = ids, length

  def __len__(self):
    return len(self.ids) - self.length + 1

  def __getitem__(self, i):
    return {"tokens": self.ids[i:i + self.length]}


class Chunks(Windows):
  """Non-overlapping windows that tile the text once: the held-out split is scored exactly once."""

  def __len__(self):
    return (len(self.ids) - 1) // (self.length - 1)

  def __getitem__(self, i):
    start = i * (self.length - 1)
    return {"tokens": self.ids[start:start + self.length]}
