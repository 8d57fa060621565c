"""Sample-level GRU over 8-bit mu-law codes on the Free Spoken Digit Dataset (8 kHz), exact test NLL in bits
per sample over the real samples only (padding is masked out of the loss and the metric).

The FSDD folder (3,000 WAVs + MANIFEST.tsv, official split: takes 0-4 test) is found under GENJAX_DATA_DIR
(default ../shared/data) in `fsdd/`; any folder of WAV/FLAC/OGG clips with such a manifest works. Training
reads random crops of `data.length` samples; evaluation scores whole clips (centre crop to `eval_length`).
`genjax sample -n N` writes N WAVs, drawn one sample at a time on device (lax.scan), and a spectrogram.
Variants: `:smoke`, `:cpu` (about 35 minutes on 2 cores), default.
"""

from genjax import config as common


def get_config(arg=None):
  c = common.experiment("sample_rnn_fsdd", common.check_variant(arg), "autoregressive", "audio")
  c.model.update(arch="char_rnn", cell="gru", layers=2, embed=64, hidden=512, dropout=0.0)
  c.data.update(length=2049, eval_length=8192)
  c.sample = dict(n=4, length=8000, temperature=1.0, top_k=0)
  c.optim.update(lr=1e-3, warmup_steps=500, b2=0.999)
  c.batch_size, c.steps = 64, 50_000
  c.eval_batches, c.eval_quality_periodic = 5, 0
  common.intervals(c, log=100, evaluate=2500, sample=5000, ckpt=2500)
  if arg == "cpu":
    c.model.update(layers=1, hidden=256)
    c.data.length = 1025
    c.batch_size, c.steps = 16, 2000
    c.optim.update(lr=2e-3, warmup_steps=200)
    common.intervals(c, log=50, evaluate=500, sample=1000, ckpt=500)
  elif arg == "smoke":
    c.model.update(layers=1, embed=8, hidden=16)
    c.data.update(length=65, eval_length=256)
    c.batch_size, c.sample.n, c.sample.length = 16, 2, 40
    c.optim.lr = 1e-2  # enough for 20 steps to learn the skewed code distribution of speech
    common.smoke(c)
    c.eval_quality_periodic = 0
  return common.lock(c)
