"""Convolutional VAE for small images: strided convs down to a Gaussian posterior, transposed convs back up.

Sized from config (`widths`, `latent`); with widths (32, 64) and latent 32 on 28x28x1 it is the canonical
`conv_vae` of the benchmark suite. The decoder returns `outputs` numbers per pixel channel (logits, or a
location and log-scale): the likelihood lives in the task. With `classes` > 0 it is a conditional VAE: the
encoder's last layer and the decoder's first read the label's one-hot (models/condition.py).
"""

import jax
import jax.numpy as jnp
from flax import nnx

from genjax.models import condition, layers

PARAM_AXES = ()  # small convs: replicated, data parallel is what pays


class Encoder(nnx.Module):
  def __init__(self, shape, widths, latent, classes=0, *, dtype=None, remat="none", rngs):
    h, w, c = shape
    self.remat, self.classes = remat, classes
    chans = (c, *widths)
    for i, (a, b) in enumerate(zip(chans, chans[1:])):  # named attributes: checkpoint paths stay strings
      setattr(self, f"conv{i}", layers.Conv(a, b, (3, 3), (2, 2), dtype=dtype, rngs=rngs))
    self.n = len(widths)
    side = (h // 2 ** self.n) * (w // 2 ** self.n) * widths[-1]
    self.out = nnx.Linear(side + classes, 2 * latent, dtype=dtype, rngs=rngs)

  def __call__(self, x, label=None):
    """Posterior mean and log-variance [B, latent], float32."""
    for i in range(self.n):
      x = layers.remat(lambda x, conv=getattr(self, f"conv{i}"): jax.nn.relu(conv(x)), self.remat)(x)
    x = condition.append_label(x.reshape(x.shape[0], -1), label, self.classes)
    mean, log_var = jnp.split(self.out(x).astype(jnp.float32), 2, axis=-1)
    return mean, log_var


class Decoder(nnx.Module):
  def __init__(self, shape, widths, latent, outputs=1, classes=0, *, dtype=None, remat="none", rngs):
    h, w, c = shape
    self.n, self.remat, self.classes = len(widths), remat, classes
    self.start = (h // 2 ** self.n, w // 2 ** self.n, widths[-1])
    self.inp = nnx.Linear(latent + classes, self.start[0] * self.start[1] * self.start[2], dtype=dtype, rngs=rngs)
    chans = (widths[-1], *reversed(widths))
    for i, (a, b) in enumerate(zip(chans, chans[1:])):
      setattr(self, f"up{i}", layers.ConvTranspose(a, b, (3, 3), (2, 2), dtype=dtype, rngs=rngs))
    self.out = layers.ConvTranspose(widths[0], c * outputs, (3, 3), (1, 1), dtype=dtype, rngs=rngs)

  def __call__(self, z, label=None):
    """The likelihood's float32 parameters per pixel [B, H, W, C * outputs]."""
    x = jax.nn.relu(self.inp(condition.append_label(z, label, self.classes))).reshape(z.shape[0], *self.start)
    for i in range(self.n):
      x = layers.remat(lambda x, up=getattr(self, f"up{i}"): jax.nn.relu(up(x)), self.remat)(x)
    return self.out(x).astype(jnp.float32)


class ConvVAE(nnx.Module):
  def __init__(self, shape, widths=(32, 64), latent=32, outputs=1, classes=0, *, dtype=None, remat="none",
               rngs):
    h, w, _ = shape
    if h % 2 ** len(widths) or w % 2 ** len(widths):
      raise ValueError(f"image {shape} does not halve {len(widths)} times; use fewer widths")
    self.encoder = Encoder(shape, widths, latent, classes, dtype=dtype, remat=remat, rngs=rngs)
    self.decoder = Decoder(shape, widths, latent, outputs, classes, dtype=dtype, remat=remat, rngs=rngs)

  def encode(self, x):
    """Posterior mean and log-variance [B, latent] of x = (images, labels or None)."""
    return self.encoder(*x)
