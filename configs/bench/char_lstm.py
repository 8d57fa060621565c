"""Canonical benchmark `char_lstm`: vocab 65, embedding 128, 2-layer LSTM 512, sequence 128, batch 32, Adam 2e-3.

Keep these numbers: they are compared with implementations elsewhere (benchmarks/suite.py, BUILD_NOTES.md).
"""

from genjax import config as common


def get_config(arg=None):
  c = common.experiment("bench/char_lstm", arg, "autoregressive", "text")
  c.data.update(source="text", path="tinyshakespeare/input.txt", seq_len=128)
  c.model.update(arch="char_rnn", cell="lstm", layers=2, embed=128, hidden=512, dropout=0.0)
  c.batch_size = 32
  c.optim.update(lr=2e-3, warmup_steps=0, decay="constant", clip_norm=0.0, b2=0.999)
  return common.lock(c)
