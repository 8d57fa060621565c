"""Canonical benchmark `sample_rnn`: 8-bit mu-law tokens, embedding 256->64, 1-layer GRU 512, sequence 1024,
batch 16, Adam 1e-3. The char-RNN task over 256 mu-law levels is the audio sample-level RNN.
"""

from genjax import config as common


def get_config(arg=None):
  c = common.char_rnn(None, name="bench/sample_rnn")
  c.data.update(seq_len=1024)
  c.model.update(cell="gru", layers=1, embed=64, hidden=512, dropout=0.0)
  c.batch_size = 16
  c.optim.update(lr=1e-3, warmup_steps=0, decay="constant", clip_norm=0.0, b2=0.999)
  return common.lock(c)
