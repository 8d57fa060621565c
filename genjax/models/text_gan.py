"""The character-level WGAN-GP language model of Gulrajani et al. 2017 (section 5.2).

The generator maps z to a [length, d] sequence, runs `blocks` residual blocks of two width-5 1-D
convolutions (ReLU before each, the branch scaled by 0.3 as in the paper's code) and emits a softmax over the
vocabulary at every position; the critic reads one-hot real lines (or those softmaxes) through a 1x1
convolution, the same kind of blocks, and a dense layer to one score. No sampling step sits between them, so
the critic's gradient reaches the generator directly; samples decode by argmax.
"""

import jax
import jax.numpy as jnp
from flax import nnx

from genjax.models import layers

PARAM_AXES = ()
KERNEL, RESIDUAL = 5, 0.3


class ResBlock(nnx.Module):
  def __init__(self, d, second_order, *, dtype=None, remat="none", rngs):
    self.conv0 = layers.Conv(d, d, (KERNEL,), (1,), second_order, dtype=dtype, rngs=rngs)
    self.conv1 = layers.Conv(d, d, (KERNEL,), (1,), second_order, dtype=dtype, rngs=rngs)
    self.remat = remat

  def __call__(self, x):
    return layers.remat(self._block, self.remat)(x)

  def _block(self, x):
    return x + RESIDUAL * self.conv1(jax.nn.relu(self.conv0(jax.nn.relu(x))))


def _blocks(module, n, d, second_order, dtype, remat, rngs):
  for i in range(n):  # named attributes: checkpoint paths stay strings
    setattr(module, f"block{i}", ResBlock(d, second_order, dtype=dtype, remat=remat, rngs=rngs))


def _run_blocks(module, n, x):
  for i in range(n):
    x = getattr(module, f"block{i}")(x)
  return x


class Generator(nnx.Module):
  def __init__(self, length, vocab, d, z, blocks, *, dtype=None, remat="none", rngs):
    self.length, self.d, self.n = length, d, blocks
    self.inp = nnx.Linear(z, length * d, dtype=dtype, rngs=rngs)
    _blocks(self, blocks, d, False, dtype, remat, rngs)
    self.out = nnx.Linear(d, vocab, dtype=dtype, rngs=rngs)

  def __call__(self, z):
    """z [B, z] -> per-position character distributions [B, length, vocab] (a float32 softmax)."""
    x = self.inp(z).reshape(z.shape[0], self.length, self.d)
    return jax.nn.softmax(self.out(_run_blocks(self, self.n, x)).astype(jnp.float32), axis=-1)


class Critic(nnx.Module):
  def __init__(self, length, vocab, d, blocks, second_order=True, *, dtype=None, remat="none", rngs):
    self.n = blocks
    self.inp = nnx.Linear(vocab, d, dtype=dtype, rngs=rngs)  # a 1x1 convolution
    _blocks(self, blocks, d, second_order, dtype, remat, rngs)
    self.out = nnx.Linear(length * d, 1, dtype=dtype, rngs=rngs)

  def __call__(self, x, update_stats=False, rng=None):
    """x [B, length, vocab] -> float32 scores [B]. (`update_stats` and `rng` are the GAN task's critic interface;
    this critic has neither spectral norm nor phase shuffle.)"""
    del update_stats, rng
    h = _run_blocks(self, self.n, self.inp(x))
    return self.out(h.reshape(x.shape[0], -1))[:, 0].astype(jnp.float32)


class TextGAN(nnx.Module):
  def __init__(self, length, vocab, d=128, z=128, blocks=5, second_order=True, *, dtype=None, remat="none",
               rngs):
    self.g = Generator(length, vocab, d, z, blocks, dtype=dtype, remat=remat, rngs=rngs)
    self.d = Critic(length, vocab, d, blocks, second_order, dtype=dtype, remat=remat, rngs=rngs)
