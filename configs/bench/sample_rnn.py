"""Canonical benchmark `sample_rnn`: 8-bit mu-law codes, embedding 256->64, 1-layer GRU 512, 1,024 predicted
samples per clip (1,025-sample FSDD crops), batch 16, Adam 1e-3: the autoregressive family on audio.
"""

from genjax import config as common


def get_config(arg=None):
  c = common.experiment("bench/sample_rnn", arg, "autoregressive", "audio")
  c.data.length = 1025
  c.model.update(arch="char_rnn", cell="gru", layers=1, embed=64, hidden=512, dropout=0.0)
  c.batch_size = 16
  c.optim.update(lr=1e-3, warmup_steps=0, decay="constant", clip_norm=0.0, b2=0.999)
  return common.lock(c)
