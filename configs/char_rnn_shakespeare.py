"""Char LSTM on Tiny Shakespeare with nanoGPT's split (first 90% train, last 10% validation).

The file is found under GENJAX_DATA_DIR (default ../shared/data); point `--config.data.path` elsewhere.
Variants: `:smoke` (seconds, for tests), `:cpu` (about 10 minutes on a 2-core CPU, ~12k chars/s, see
BUILD_NOTES.md), default (the full accelerator run). The other char-RNN configs start from `recipe`.
"""

from genjax import config as common


def recipe(arg, name):
  """The char-RNN recipe per variant, before its data source is set."""
  c = common.experiment(name, common.check_variant(arg), "autoregressive", "text")
  c.model.update(arch="char_rnn", cell="lstm", layers=2, embed=128, hidden=512, dropout=0.1)
  c.data.seq_len = 128
  c.batch_size, c.steps = 64, 20_000
  c.sample = dict(n=4, length=600, prompt="\n", temperature=0.8, top_k=0)
  if arg == "cpu":
    c.model.update(layers=1, embed=64, hidden=384, dropout=0.0)
    c.data.seq_len = 64
    c.steps = 1800
    c.optim.update(lr=3e-3, warmup_steps=100)
    common.intervals(c, log=50, evaluate=300, sample=900, ckpt=300)
    c.eval_batches = 40
  elif arg == "smoke":
    c.model.update(layers=1, embed=16, hidden=32, dropout=0.0)
    c.data.seq_len = 32
    c.batch_size = 16
    common.smoke(c)
    c.sample.length = 40
  return c


def get_config(arg=None):
  c = recipe(arg, "char_rnn_shakespeare")
  c.data.update(source="text", path="tinyshakespeare/input.txt")
  return common.lock(c)


def sweep(add):
  """Learning rate x width; expand with `python -m launch.sweep --config configs/char_rnn_shakespeare.py:cpu`."""
  for lr in (1e-3, 3e-3):
    for hidden in (256, 384):
      add(**{"optim.lr": lr, "model.hidden": hidden})
