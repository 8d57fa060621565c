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

  def check(self, text, what="prompt"):
    """`text` (a prompt, an interpolation endpoint) uses only characters the model saw."""
    missing = sorted({c for c in text if c not in self.index or c == UNK})
    if missing:
      raise UserError(f"{what} has characters the model never saw: {''.join(missing)!r}; use characters from "
                      f"the training text (the run's vocabulary has {len(self)} symbols)")


def split(text, val_fraction):
  """nanoGPT's split: the first (1 - val_fraction) of the characters train, the rest validate."""
  if not text:
    raise UserError("the text corpus is empty; point --config.data.path at a non-empty UTF-8 file")
  n = int(len(text) * (1 - val_fraction))
  return text[:n], text[n:]


def load(data_cfg):
  """(train text, validation text) for the configured source (poem titles kept unless `data.titles` is off)."""
  kind = data_cfg.source
  if kind == "tfds":
    train, val = sources.tfds_text(data_cfg.tfds_name, data_cfg.tfds_key)
    if not train:
      raise UserError(f"TFDS {data_cfg.tfds_name!r} has no text under key {data_cfg.tfds_key!r}")
    return train, val
  readers = {"pydoc": lambda: sources.embedded_corpus(),
             "text": lambda: sources.read_text_file(data_cfg.path),
             "tang_poetry": lambda: sources.tang_poetry(data_cfg.path, data_cfg.get("titles", True))}
  if kind not in readers:
    raise UserError(f"unknown text source {kind!r}; set --config.data.source to one of "
                    f"{sorted(readers) + ['tfds']}")
  return split(readers[kind](), data_cfg.val_fraction)


class Windows:
  """Every window of `length` consecutive ids; a batch of them is one gather."""

  def __init__(self, ids, length):
    if len(ids) < length + 1:
      raise UserError(f"the text has {len(ids)} characters, fewer than one window of {length}; lower "
                      f"--config.data.seq_len or use more text")
    self.ids, self.length = ids, length

  def __len__(self):
    return len(self.ids) - self.length + 1

  def __getitem__(self, i):
    start = self.starts(i)
    return {"tokens": self.ids[start:start + self.length]}

  def read(self, indices):
    starts = self.starts(np.asarray(indices))
    if hasattr(self.ids, "windows"):  # a prepared stream cuts them in one gather
      return {"tokens": self.ids.windows(starts, self.length)}
    return {"tokens": self.ids[starts[:, None] + np.arange(self.length)]}

  def starts(self, indices):
    return indices

  @property
  def block(self):
    """Windows [r * block, (r + 1) * block) start in one record of a prepared token stream (None in memory)."""
    return getattr(self.ids, "block", None)

  def process_slice(self, process_index, process_count):
    """This process's windows: those that start in its shards of a prepared stream, else every P-th."""
    if not hasattr(self.ids, "process_slice"):
      return np.arange(process_index, len(self), process_count)
    starts = self.ids.process_slice(process_index, process_count)
    starts = starts[starts < len(self)]
    if not len(starts):
      raise UserError(f"{self.ids.table.folder}: no window of {self.length} tokens starts in the shards of process "
                      f"{process_index} of {process_count}; prepare the data again with fewer shards")
    return starts


class Chunks(Windows):
  """Non-overlapping windows that tile the text once: the held-out split is scored exactly once."""

  def __len__(self):
    return (len(self.ids) - 1) // (self.length - 1)

  def starts(self, indices):
    return indices * (self.length - 1)


LONG_LINES = ("refuse", "truncate", "drop")


def lines(text, length, long_lines, split_name, log=print):
  """The non-empty lines of `text`, none longer than `length` characters: a longer one is refused, truncated
  or dropped per `long_lines`; empty lines are skipped. Both are counted in one message."""
  out, empty, long = [], 0, 0
  for number, line in enumerate(text.split("\n"), 1):
    if not line.strip():
      empty += 1
      continue
    if len(line) > length:
      long += 1
      if long_lines == "refuse":
        raise UserError(f"{split_name} line {number} has {len(line)} characters, more than data.seq_len={length} "
                        f"({line[:30]!r}...); raise --config.data.seq_len, or set --config.data.long_lines to "
                        f"'truncate' or 'drop'")
      if long_lines == "drop":
        continue
      line = line[:length]
    out.append(line)
  if not out:
    raise UserError(f"the {split_name} split has no non-empty lines of text; use a larger corpus or lower "
                    f"--config.data.val_fraction")
  if empty or long:
    done = {"truncate": "truncated", "drop": "dropped"}.get(long_lines, "")
    log(f"{split_name}: {len(out)} lines; skipped {empty} empty lines" +
        (f"; {long} lines longer than {length} characters {done}" if long else ""))
  return out


def line_source(lines_, vocab, length):
  """Lines as fixed-size examples: `tokens` [length + 2] = newline, the line, newlines to the end (a line
  starts and ends at a newline, so the vocabulary needs no extra symbols); `mask` marks the start, the
  line's characters and the newline that ends it."""
  newline = vocab.index["\n"]
  tokens = np.full((len(lines_), length + 2), newline, np.int32)
  mask = np.zeros((len(lines_), length + 2), np.float32)
  for i, line in enumerate(lines_):
    tokens[i, 1:1 + len(line)] = vocab.encode(line)
    mask[i, :len(line) + 2] = 1.0
  return sources.ArraySource({"tokens": tokens, "mask": mask})
