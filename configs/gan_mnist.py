"""DCGAN on MNIST (pixels scaled to [-1, 1]); samples from the EMA generator.

The IDX files are found under GENJAX_DATA_DIR (default ../shared/data) in `mnist/`. Variants: `:smoke`,
`:cpu`, default. Losses: `--config.gan.loss=non_saturating|hinge|wgan_gp` (WGAN-GP usually with
`--config.gan.n_critic=5 --config.optim.b1=0.5 --config.optim.b2=0.9`); `--config.model.spectral_norm=True`
normalizes every critic weight. `genjax eval --workdir DIR` reports FID/KID/IS on genjax's MNIST classifier.
"""

from genjax import config as common


def get_config(arg=None):
  return common.lock(common.image_gan(common.check_variant(arg), name="gan_mnist"))
