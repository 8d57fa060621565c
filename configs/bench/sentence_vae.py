"""Canonical benchmark `sentence_vae`: lines of up to 64 characters (vocab 65), embedding 128, GRU 512 encoder ->
latent 32 -> LSTM 512 decoder started from z and reading it beside every character, character dropout 0.25,
logistic KL warm-up with free bits 0.125, batch 64, Adam 1e-3 (the default sentence VAE recipe's shapes).
"""

from genjax import config as common


def get_config(arg=None):
  c = common.experiment("bench/sentence_vae", arg, "vae", "text")
  c.data.update(source="text", path="tinyshakespeare/input.txt", unit="line", seq_len=64)
  c.model = dict(arch="sentence_vae", embed=128, hidden=512, latent=32, char_dropout=0.25)
  c.likelihood, c.kl_schedule, c.kl_warmup_steps, c.free_bits = "categorical", "logistic", 5000, 0.125
  c.batch_size = 64
  c.optim.update(lr=1e-3, warmup_steps=0, decay="constant", clip_norm=0.0, b2=0.999)
  return common.lock(c)
