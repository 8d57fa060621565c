"""Char LSTM on the embedded corpus: the prose of Python's own documentation (`pydoc_data.topics`).

It needs no download, so it is what the README's first command trains. Variants: `:smoke` (seconds, for
tests), `:cpu` (minutes on a laptop), default (the full run for an accelerator).
"""

from genjax import config as common


def get_config(arg=None):
  c = common.char_rnn(common.check_variant(arg), name="char_rnn_pydoc")
  c.data.source = "pydoc"
  return common.lock(c)
