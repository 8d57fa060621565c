"""Row-LSTM pixel RNN on binarized MNIST: exact test NLL next to the VAE's bound (same fixed binarization).

The IDX files are found under GENJAX_DATA_DIR (default ../shared/data) in `mnist/`. Variants: `:smoke`,
`:cpu`, default.
"""

from genjax import config as common


def get_config(arg=None):
  return common.lock(common.pixel_rnn(common.check_variant(arg), name="pixel_rnn_mnist"))
