"""Char LSTM on Tiny Shakespeare with nanoGPT's split (first 90% train, last 10% validation).

The file is found under GENJAX_DATA_DIR (default ../shared/data); point `--config.data.path` elsewhere.
Variants: `:smoke`, `:cpu` (about 10 minutes on a 2-core CPU), default (the full accelerator run).
"""

from genjax import config as common


def get_config(arg=None):
  c = common.char_rnn(common.check_variant(arg), name="char_rnn_shakespeare")
  c.data.source = "text"
  c.data.path = "tinyshakespeare/input.txt"
  return common.lock(c)


def sweep(add):
  """Learning rate x width; expand with `python -m launch.sweep --config configs/char_rnn_shakespeare.py:cpu`."""
  for lr in (1e-3, 3e-3):
    for hidden in (256, 384):
      add(**{"optim.lr": lr, "model.hidden": hidden})
