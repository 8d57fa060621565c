"""Character-level WGAN-GP (Gulrajani et al. 2017, section 5.2) on the lines of Tiny Shakespeare.

Residual 1-D conv generator emitting a softmax per character of a 32-character line, a conv critic over
one-hot real lines, gradient penalty 10, n_critic critic updates per generator update, Adam (0.5, 0.9) at
1e-4, the paper's recipe; lines are cut to 32 characters (counted) and padded with newlines, and samples
decode by argmax up to their first newline. Variants: `:smoke`, `:cpu` (about 30 minutes on 2 cores),
default. configs/text_gan_tang_poetry.py starts from `recipe`.
"""

from genjax import config as common


def recipe(arg, name):
  """The text GAN recipe per variant, before its data source is set."""
  c = common.experiment(name, common.check_variant(arg), "gan", "text")
  c.model.update(arch="text_gan", d=512, z=128, blocks=5)
  c.gan.update(loss="wgan_gp", gp_weight=10.0, n_critic=10, ema=0.999)
  c.optim.update(lr=1e-4, b1=0.5, b2=0.9)
  c.data.update(unit="line", seq_len=32, long_lines="truncate")
  c.batch_size, c.steps = 640, 100_000  # 64 lines for each of the 10 critic updates
  c.eval_batches, c.eval_quality_periodic = 5, 2000
  c.sample = dict(n=64, temperature=1.0)
  common.intervals(c, log=500, evaluate=5000, sample=5000, ckpt=5000)
  if arg == "cpu":
    c.model.update(d=64)
    c.gan.n_critic = 5
    c.batch_size, c.steps = 160, 2000
    c.optim.lr = 3e-4
    c.eval_quality_periodic = 1000
    common.intervals(c, log=50, evaluate=500, sample=500, ckpt=500)
  elif arg == "smoke":
    c.model.update(d=16, z=8, blocks=1)
    c.gan.n_critic = 2
    c.batch_size, c.sample.n = 16, 4
    common.smoke(c)
  return c


def get_config(arg=None):
  c = recipe(arg, "text_gan_shakespeare")
  c.data.update(source="text", path="tinyshakespeare/input.txt")
  return common.lock(c)
