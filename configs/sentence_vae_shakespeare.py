"""Sentence VAE (Bowman et al. 2016) over the lines of Tiny Shakespeare, character by character.

A GRU encoder to a 32-d Gaussian latent, an LSTM decoder started from z and reading it at every step;
character dropout 0.25 and free bits (0.125 nats a dimension: at least 4 nats a line) keep the decoder
using z; the KL weight rises logistically over `kl_warmup_steps`. nanoGPT's split (first 90% of the
characters train), then each non-empty line is one example. Variants: `:smoke`, `:cpu` (about 30 minutes
on 2 cores), default. Interpolate with `genjax sample --workdir DIR --interpolate "LINE A" "LINE B"`;
`genjax eval` writes reconstructions and interpolations of validation lines beside the metrics.
configs/sentence_vae_tang_poetry.py starts from `recipe`.
"""

from genjax import config as common


def recipe(arg, name):
  """The sentence VAE recipe per variant, before its data source is set."""
  c = common.experiment(name, common.check_variant(arg), "vae", "text")
  c.model = dict(arch="sentence_vae", embed=128, hidden=512, latent=32, char_dropout=0.25)
  c.likelihood, c.kl_schedule, c.kl_warmup_steps, c.free_bits = "categorical", "logistic", 5000, 0.125
  c.data.update(unit="line", seq_len=64)
  c.optim.update(lr=1e-3, warmup_steps=200, b2=0.999)
  c.batch_size, c.steps = 64, 30_000
  c.eval_batches, c.eval_quality_periodic = 20, 2000
  c.sample = dict(n=16, temperature=1.0)
  common.intervals(c, log=200, evaluate=2000, sample=2000, ckpt=2000)
  if arg == "cpu":
    c.model.update(embed=64, hidden=256)
    c.steps, c.kl_warmup_steps = 3000, 1000
    c.optim.lr = 2e-3
    c.eval_quality_periodic = 1000
    common.intervals(c, log=50, evaluate=500, sample=1000, ckpt=500)
  elif arg == "smoke":
    c.model.update(embed=16, hidden=32, latent=8)
    c.kl_warmup_steps, c.eval_iw_samples = 10, 4
    c.batch_size, c.sample.n = 16, 4
    common.smoke(c)
  return c


def get_config(arg=None):
  c = recipe(arg, "sentence_vae_shakespeare")
  c.data.update(source="text", path="tinyshakespeare/input.txt")
  return common.lock(c)
