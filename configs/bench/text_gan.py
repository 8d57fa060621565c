"""Canonical benchmark `text_gan`: the character WGAN-GP on 32-character lines (vocab 65), z 128, width 128,
5 residual blocks of two width-5 1-D convs in each network, gradient penalty 10, one critic and one generator
update per step, Adam 1e-4 (0.5, 0.9), batch 64.
"""

from genjax import config as common


def get_config(arg=None):
  c = common.experiment("bench/text_gan", arg, "gan", "text")
  c.data.update(source="text", path="tinyshakespeare/input.txt", unit="line", seq_len=32, long_lines="truncate")
  c.model.update(arch="text_gan", d=128, z=128, blocks=5)
  c.gan.update(loss="wgan_gp", gp_weight=10.0, n_critic=1)
  c.batch_size = 64
  c.optim.update(lr=1e-4, b1=0.5, b2=0.9)
  return common.lock(c)
