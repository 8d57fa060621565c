"""Canonical benchmark `wavegan`: 8192-sample clips, z 100, d 32, 1-D convs kernel 25, WGAN-GP weight 10,
Adam 1e-4 (0.5, 0.9), batch 16, one critic and one generator update per step (no phase shuffle).
"""

from genjax import config as common


def get_config(arg=None):
  c = common.experiment("bench/wavegan", arg, "gan", "audio")
  c.model.update(arch="wavegan", d=32, z=100)
  c.data.length = 8192
  c.gan.update(loss="wgan_gp", gp_weight=10.0, n_critic=1)
  c.batch_size = 16
  c.optim.update(lr=1e-4, b1=0.5, b2=0.9)
  return common.lock(c)
