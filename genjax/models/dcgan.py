"""DCGAN generator and discriminator for small images, sized from config.

With g_widths (128, 64), d_widths (64, 128) and z 100 on 28x28x1 they are the canonical `dcgan` of the
benchmark suite: G dense 7*7*128 + BN + ReLU -> convT 64 (4x4, s2) + BN + ReLU -> convT 1 (4x4, s2) tanh;
D conv 64 (4x4, s2) LeakyReLU 0.2 -> conv 128 (4x4, s2) LeakyReLU -> dense 1 (a logit / critic value).
With `classes` > 0 both read a class label (models/condition.py).
"""

import jax
import jax.numpy as jnp
from flax import nnx

from genjax.models import condition, layers

PARAM_AXES = ()  # small convs: replicated, data parallel is what pays


def check_shape(shape, widths):
  h, w, _ = shape
  if h % 2 ** len(widths) or w % 2 ** len(widths):
    raise ValueError(f"image {shape} does not halve {len(widths)} times; use fewer widths")


class Generator(nnx.Module):
  def __init__(self, shape, widths, z, classes=0, *, dtype=None, remat="none", rngs):
    check_shape(shape, widths)
    h, w, c = shape
    self.n, self.remat, self.classes = len(widths), remat, classes
    self.start = (h // 2 ** self.n, w // 2 ** self.n, widths[0])
    self.inp = nnx.Linear(z + classes, self.start[0] * self.start[1] * widths[0], dtype=dtype, rngs=rngs)
    self.norm_inp = layers.BatchNorm(widths[0])
    chans = (*widths, c)
    for i, (a, b) in enumerate(zip(chans, chans[1:])):  # named attributes: checkpoint paths stay strings
      setattr(self, f"up{i}", layers.ConvTranspose(a, b, (4, 4), (2, 2), dtype=dtype, rngs=rngs))
      if i < self.n - 1:
        setattr(self, f"norm{i}", layers.BatchNorm(b))

  def __call__(self, z, label=None):
    z = condition.append_label(z, label, self.classes)
    x = jax.nn.relu(self.norm_inp(self.inp(z).reshape(z.shape[0], *self.start)))
    for i in range(self.n - 1):
      up, norm = getattr(self, f"up{i}"), getattr(self, f"norm{i}")
      x = layers.remat(lambda x, up=up, norm=norm: jax.nn.relu(norm(up(x))), self.remat)(x)
    return jnp.tanh(getattr(self, f"up{self.n - 1}")(x)).astype(jnp.float32)


class Discriminator(nnx.Module):
  """Strided convs to one output per image. With `spectral_norm`, every weight is divided by its largest
  singular value (one power iteration per update, its vector kept as model state). `second_order` for
  losses that differentiate the critic's input gradient (WGAN-GP), see layers.Conv. With `classes` the
  output adds the projection of the label's embedding onto the last features."""

  def __init__(self, shape, widths, spectral_norm=False, second_order=False, classes=0, *, dtype=None,
               remat="none", rngs):
    check_shape(shape, widths)
    h, w, c = shape
    self.n, self.spectral, self.dtype, self.remat = len(widths), spectral_norm, dtype, remat
    chans = (c, *widths)
    for i, (a, b) in enumerate(zip(chans, chans[1:])):
      setattr(self, f"conv{i}", layers.Conv(a, b, (4, 4), (2, 2), second_order, dtype=dtype, rngs=rngs))
    side = (h // 2 ** self.n) * (w // 2 ** self.n) * widths[-1]
    self.out = nnx.Linear(side, 1, rngs=rngs)
    if classes:
      self.project = condition.Projection(classes, side, rngs=rngs)
    if spectral_norm:
      for name, width in [(f"conv{i}", b) for i, b in enumerate(widths)] + [("out", 1)]:
        u = jax.random.normal(rngs.params(), (width,))
        setattr(self, f"{name}_u", layers.SpectralVector(u / jnp.linalg.norm(u)))

  def _kernel(self, name, update):
    w = getattr(self, name).kernel[...]
    if not self.spectral:
      return w
    u = getattr(self, f"{name}_u")
    w, u_next = layers.spectral_normalize(w, u[...])
    if update:
      u[...] = u_next
    return w

  def __call__(self, x, update_stats=False, rng=None, label=None):
    """x [B, H, W, C] in [-1, 1] (and its labels [B] when conditional) -> float32 [B]. `update_stats` advances
    the spectral-norm power iteration; `rng` is for critics that randomize (WaveGAN's phase shuffle), unused
    here."""
    del rng
    for i in range(self.n):
      name = f"conv{i}"  # the kernel outside the block: its power iteration updates state once
      block = lambda x, w, conv=getattr(self, name): jax.nn.leaky_relu(conv(x, w), 0.2)  # noqa: E731
      x = layers.remat(block, self.remat)(x, self._kernel(name, update_stats))
    x, w, b = layers.compute(self.dtype, x.reshape(x.shape[0], -1), self._kernel("out", update_stats),
                             self.out.bias[...])
    out = (x @ w + b)[:, 0]
    if label is not None:
      out = out + self.project(x, label)
    return out.astype(jnp.float32)


class DCGAN(nnx.Module):
  def __init__(self, shape, g_widths=(128, 64), d_widths=(64, 128), z=100, spectral_norm=False,
               second_order=False, classes=0, *, dtype=None, remat="none", rngs):
    self.g = Generator(shape, g_widths, z, classes, dtype=dtype, remat=remat, rngs=rngs)
    self.d = Discriminator(shape, d_widths, spectral_norm, second_order, classes, dtype=dtype, remat=remat,
                           rngs=rngs)
