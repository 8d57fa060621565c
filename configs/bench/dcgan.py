"""Canonical benchmark `dcgan`: 28x28x1, z 100, G dense 7*7*128+BN -> convT 64 (4x4, s2)+BN -> convT 1 tanh;
D conv 64/128 (4x4, s2) LeakyReLU 0.2 -> dense 1; non-saturating; Adam 2e-4 (0.5, 0.999); batch 64.
`:cond` conditions both on 10 classes (one-hot beside z, a projection critic), as `--config.model.classes=10`.
"""

from genjax import config as common


def get_config(arg=None):
  c = common.experiment("bench/dcgan", arg, "gan", "image")
  c.model.update(arch="dcgan", g_widths=(128, 64), d_widths=(64, 128), z=100)
  c.gan.update(loss="non_saturating", n_critic=1)
  c.batch_size = 64
  common.conditional_variant(c, arg)
  return common.lock(c)
