"""Row-LSTM pixel RNN on binarized MNIST: exact test NLL next to the VAE's bound (same fixed binarization).

The IDX files are found under GENJAX_DATA_DIR (default ../shared/data) in `mnist/`. Variants: `:smoke`,
`:cpu` (12,000 steps, ~13 minutes on 2 cores: exact test NLL 81.5 nats), default (30,000 steps).
"""

from genjax import config as common


def get_config(arg=None):
  c = common.experiment("pixel_rnn_mnist", common.check_variant(arg), "autoregressive", "image")
  c.model.update(arch="pixel_rnn", cell="lstm", hidden=256, layers=1, head=512)
  c.sample = dict(n=36, temperature=1.0)
  c.optim.update(lr=1e-3, warmup_steps=200, b2=0.999)
  c.batch_size, c.steps = 64, 30_000
  c.eval_batches = 10
  common.intervals(c, log=200, evaluate=5000, sample=5000, ckpt=5000)
  if arg == "cpu":
    c.steps = 12_000
    common.intervals(c, log=100, evaluate=1000, sample=1000, ckpt=1000)
  elif arg == "smoke":
    c.model.update(hidden=16, head=16)
    c.batch_size, c.sample.n = 16, 4
    common.smoke(c)
    c.eval_quality_periodic = 0
  return common.lock(c)
