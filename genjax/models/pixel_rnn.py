"""An autoregressive RNN over image pixels with an exact likelihood: a row LSTM/GRU plus a masked row head.

p(x) = prod_rows p(row_r | rows above), and each row's conditional is itself autoregressive over its W*C
pixels (left to right, channels innermost): a MADE-style masked MLP whose hidden units see only earlier
pixels of the row, conditioned on the recurrent state that summarises all rows above. The recurrence runs 28
steps on MNIST instead of the 784 of a pixel-sequence RNN, so it trains quickly on a CPU, and every pixel
still depends on every pixel before it in raster order: log p(x) is exact (see BUILD_NOTES.md).
"""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genjax.models.layers import compute
from genjax.models.rnn import Recurrent

PARAM_AXES = ()  # small: replicated, data parallel is what pays


def _masks(pixels, hidden):
  """MADE masks: hidden unit j has degree m_j in [0, pixels-2] and sees pixels d <= m_j; output c sees units
  with m_j < c. So output c depends on pixels 0..c-1 only (output 0 on the context alone)."""
  degree = np.arange(hidden) % max(pixels - 1, 1)
  into = np.arange(pixels)[:, None] <= degree[None, :]
  out = degree[:, None] < np.arange(pixels)[None, :]
  return jnp.asarray(into, jnp.float32), jnp.asarray(out, jnp.float32)


class MaskedRowHead(nnx.Module):
  """Logits of one row's pixels given the row so far (masked) and the context of the rows above."""

  def __init__(self, pixels, context, hidden, *, dtype=None, rngs):
    self.pixels, self.hidden, self.dtype = pixels, hidden, dtype
    init = nnx.initializers.lecun_normal()
    self.w_in = nnx.Param(init(rngs.params(), (pixels, hidden)))
    self.ctx_in = nnx.Linear(context, hidden, dtype=dtype, rngs=rngs)
    self.w_out = nnx.Param(init(rngs.params(), (hidden, pixels)))
    self.ctx_out = nnx.Linear(context, pixels, dtype=dtype, rngs=rngs)

  def __call__(self, row, ctx):
    """float32 logits [B, pixels]."""
    into, out = _masks(self.pixels, self.hidden)
    row, w_in, w_out = compute(self.dtype, row, self.w_in[...] * into, self.w_out[...] * out)
    u = jax.nn.relu(row @ w_in + self.ctx_in(ctx))
    return (u @ w_out + self.ctx_out(ctx)).astype(jnp.float32)


class PixelRNN(nnx.Module):
  def __init__(self, shape, hidden=256, layers=1, head=512, cell="lstm", *, dtype=None, remat="none", rngs):
    h, w, c = shape
    self.shape, self.pixels, self.layers = tuple(shape), w * c, layers
    for i in range(layers):
      setattr(self, f"rnn{i}", Recurrent(cell, self.pixels if i == 0 else hidden, hidden, dtype=dtype, remat=remat,
                                         rngs=rngs))
    self.head = MaskedRowHead(self.pixels, hidden, head, dtype=dtype, rngs=rngs)

  def zero_carry(self, batch):
    return [getattr(self, f"rnn{i}").zero_carry(batch) for i in range(self.layers)]

  def context(self, rows_above, carry):
    """[B, T, pixels] rows -> ([B, T, hidden] context, carry): the recurrence over rows."""
    x, out = jnp.swapaxes(rows_above, 0, 1), []
    for i in range(self.layers):
      x, c = getattr(self, f"rnn{i}")(x, carry[i])
      out.append(c)
    return jnp.swapaxes(x, 0, 1), out

  def __call__(self, x):
    """Binary images [B, H, W, C] -> per-pixel logits of the same shape (pixel i conditioned on pixels < i)."""
    b, h = x.shape[0], x.shape[1]
    rows = x.reshape(b, h, self.pixels)
    above = jnp.concatenate([jnp.zeros_like(rows[:, :1]), rows[:, :-1]], axis=1)
    ctx, _ = self.context(above, self.zero_carry(b))
    return self.head(rows, ctx).reshape(x.shape)

  def sample(self, rng, n, temperature=1.0):
    """n images, pixel by pixel in raster order: one recurrent step per row, one head pass per pixel."""
    def row_step(carry, key):
      prev, rnn_carry = carry
      ctx, rnn_carry = self.context(prev[:, None], rnn_carry)

      def pixel(d, row):
        logits = self.head(row, ctx[:, 0])[:, d] / temperature
        bit = jax.random.bernoulli(jax.random.fold_in(key, d), jax.nn.sigmoid(logits))
        return row.at[:, d].set(bit.astype(row.dtype))

      row = jax.lax.fori_loop(0, self.pixels, pixel, jnp.zeros((n, self.pixels)))
      return (row, rnn_carry), row

    start = (jnp.zeros((n, self.pixels)), self.zero_carry(n))
    _, rows = jax.lax.scan(row_step, start, jax.random.split(rng, self.shape[0]))
    return jnp.swapaxes(rows, 0, 1).reshape(n, *self.shape)
