"""WaveGAN (Donahue et al. 2019): 1-D transposed convolutions from a latent to a waveform, and a critic that
mirrors them with strided 1-D convolutions.

With d=32, z=100 on 8192-sample clips it is the canonical `wavegan` of the benchmark suite: G dense 16*(8d)
-> convT kernel 25 at strides 4,4,4,4,2 with channels 4d, 2d, d, d/2, 1 (ReLU between, tanh out); D conv
kernel 25 at strides 2,4,4,4,4 with channels d/2, d, 2d, 4d, 8d (LeakyReLU 0.2) -> dense 1. Phase shuffle
(n = 2 in the paper) shifts each critic activation but the last by a random -n..n samples, so the critic
cannot tell real from fake by the generator's periodic transposed-convolution artifacts.
"""

import math

import jax
import jax.numpy as jnp
from flax import nnx
from genjax.models import layers

PARAM_AXES = ()
STRIDES = (4, 4, 4, 4, 2)
KERNEL = 25


def _channels(d):
  return (8 * d, 4 * d, 2 * d, d, d // 2)


class Generator(nnx.Module):
  def __init__(self, length, d=32, z=100, channels=1, *, dtype=None, remat="none", rngs):
    self.start, self.remat = length // math.prod(STRIDES), remat
    widths = (*_channels(d), channels)
    self.inp = nnx.Linear(z, self.start * widths[0], dtype=dtype, rngs=rngs)
    self.widths = widths
    for i, (a, b, s) in enumerate(zip(widths, widths[1:], STRIDES)):
      setattr(self, f"up{i}", layers.ConvTranspose(a, b, (KERNEL,), (s,), dtype=dtype, rngs=rngs))

  def __call__(self, z):
    x = jax.nn.relu(self.inp(z).reshape(z.shape[0], self.start, self.widths[0]))
    n = len(STRIDES)
    for i in range(n):
      act = jnp.tanh if i == n - 1 else jax.nn.relu
      x = layers.remat(lambda x, up=getattr(self, f"up{i}"), act=act: act(up(x)), self.remat)(x)
    return x.astype(jnp.float32)


def phase_shuffle(x, rng, n):
  """x [B, T, C] with each example shifted by its own k in -n..n, reflect-padded (Donahue et al. 2019):
  out[:, t] = x[:, t - k]. The identity at n = 0 or without `rng` (evaluation)."""
  if n == 0 or rng is None:
    return x
  b, t, _ = x.shape
  k = jax.random.randint(rng, (b, 1), -n, n + 1)
  padded = jnp.pad(x, ((0, 0), (n, n), (0, 0)), mode="reflect")
  return jnp.take_along_axis(padded, (jnp.arange(t)[None] + n - k)[..., None], axis=1)


class Discriminator(nnx.Module):
  def __init__(self, length, d=32, channels=1, second_order=True, shuffle=0, *, dtype=None, remat="none", rngs):
    widths = (channels, *reversed(_channels(d)))
    strides = tuple(reversed(STRIDES))
    for i, (a, b, s) in enumerate(zip(widths, widths[1:], strides)):
      setattr(self, f"conv{i}", layers.Conv(a, b, (KERNEL,), (s,), second_order, dtype=dtype, rngs=rngs))
    self.n, self.shuffle, self.remat = len(strides), shuffle, remat
    self.out = nnx.Linear(length // math.prod(STRIDES) * widths[-1], 1, dtype=dtype, rngs=rngs)

  def __call__(self, x, update_stats=False, rng=None):
    """x [B, T, C] in [-1, 1] -> float32 [B]; phase shuffle when given `rng`. (`update_stats` is accepted for the GAN
    task's interface: this critic has no spectral norm.)"""
    del update_stats
    for i in range(self.n):
      x = layers.remat(lambda x, conv=getattr(self, f"conv{i}"): jax.nn.leaky_relu(conv(x), 0.2), self.remat)(x)
      if i < self.n - 1:
        x = phase_shuffle(x, None if rng is None else jax.random.fold_in(rng, i), self.shuffle)
    return self.out(x.reshape(x.shape[0], -1))[:, 0].astype(jnp.float32)


class WaveGAN(nnx.Module):
  def __init__(self, length=8192, d=32, z=100, channels=1, second_order=True, phase_shuffle=0, *, dtype=None,
               remat="none", rngs):
    if length % math.prod(STRIDES):
      raise ValueError(f"clip length {length} must be a multiple of {math.prod(STRIDES)}")
    self.g = Generator(length, d, z, channels, dtype=dtype, remat=remat, rngs=rngs)
    self.d = Discriminator(length, d, channels, second_order, phase_shuffle, dtype=dtype, remat=remat, rngs=rngs)

