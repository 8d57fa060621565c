"""DCGAN on MNIST (pixels scaled to [-1, 1]); samples from the EMA generator.

The IDX files are found under GENJAX_DATA_DIR (default ../shared/data) in `mnist/`. Variants: `:smoke`, `:cpu`
(18,000 steps, ~46 minutes on 2 cores: FID 14.4, IS 7.53, BUILD_NOTES), default (30,000 steps; the learning
rate is constant, so it trains as `:cpu` does for its first 18,000). Both use the non-saturating loss with
R1 at gamma 10 (`--config.gan.r1`; `:smoke` the loss alone). Losses:
`--config.gan.loss=non_saturating|hinge|wgan_gp` (WGAN-GP usually with `--config.gan.n_critic=5
--config.optim.b1=0.5 --config.optim.b2=0.9`); `--config.model.spectral_norm=True` normalizes every critic
weight; `--config.gan.d_lr=4e-4` gives the critic its own learning rate (TTUR); `--config.model.classes=10`
conditions both networks on the digit (then `genjax sample --label 3`; configs/cgan_mnist.py is that recipe).
`genjax eval --workdir DIR` reports FID/KID/IS on genjax's MNIST classifier (and, conditional,
`label_accuracy`).
"""

from genjax import config as common


def recipe(arg, name):
  c = common.experiment(name, common.check_variant(arg), "gan", "image")
  c.model.update(arch="dcgan", g_widths=(128, 64), d_widths=(64, 128), z=100, spectral_norm=False)
  c.gan.update(loss="non_saturating", n_critic=1, ema=0.999)
  c.optim.update(lr=2e-4, b1=0.5, b2=0.999)
  c.batch_size, c.steps = 64, 30_000
  c.eval_batches = 10
  common.intervals(c, log=200, evaluate=5000, sample=2500, ckpt=5000)
  if arg != "smoke":  # :smoke keeps the family's plain loss, which the tests built on it exercise
    c.gan.r1 = 10.0  # FID 34.1 vs 44.0 (hinge + spectral norm) and 49.2 (neither) at 6,000 steps, BUILD_NOTES
  if arg == "cpu":
    c.steps = 18_000
    common.intervals(c, log=100, evaluate=1000, sample=1000, ckpt=1000)
  elif arg == "smoke":
    c.model.update(g_widths=(8, 4), d_widths=(4, 8), z=8)
    c.batch_size, c.sample.n = 16, 4
    common.smoke(c)
  return c


def get_config(arg=None):
  return common.lock(recipe(arg, "gan_mnist"))
