"""Char LSTM on the embedded corpus: the prose of Python's own documentation (`pydoc_data.topics`).

It needs no download, so it is what the README's first command trains. The recipe is the Shakespeare
one (configs/char_rnn_shakespeare.py); variants `:smoke`, `:cpu`, default.
"""

from genjax import config as common


def get_config(arg=None):
  c = common.sibling(__file__, "char_rnn_shakespeare").recipe(arg, "char_rnn_pydoc")
  c.data.source = "pydoc"
  return common.lock(c)
