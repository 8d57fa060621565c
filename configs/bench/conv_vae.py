"""Canonical benchmark `conv_vae`: 28x28x1 Bernoulli, conv 32/64 (3x3, s2) -> latent 32 -> convT 64/32 (s2)
-> convT 1 (s1) logits, ReLU, batch 128, Adam 1e-3. `:cond` conditions it on 10 classes (the one-hot read by the
encoder's last layer and the decoder's first), as `--config.model.classes=10`.
"""

from genjax import config as common


def get_config(arg=None):
  c = common.experiment("bench/conv_vae", arg, "vae", "image")
  c.model.update(widths=(32, 64), latent=32)
  c.batch_size = 128
  c.optim.update(lr=1e-3, warmup_steps=0, decay="constant", clip_norm=0.0, b2=0.999)
  common.conditional_variant(c, arg)
  return common.lock(c)
