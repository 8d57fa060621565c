"""Conv VAE on binarized MNIST (dynamic binarization for training, one fixed binarization of the test set).

The IDX files are found under GENJAX_DATA_DIR (default ../shared/data) in `mnist/`. Variants: `:smoke`,
`:cpu`, default. Report the final bound with `genjax eval --workdir DIR --config.eval_iw_samples=1000`.
"""

from genjax import config as common


def get_config(arg=None):
  return common.lock(common.image_vae(common.check_variant(arg), name="vae_mnist"))
