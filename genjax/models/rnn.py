"""Recurrent language models (LSTM, GRU) over token ids.

Each layer keeps its gates on their own axis (`[in, gate, hidden]` kernels), so sharding 'hidden' over the
'model' mesh axis gives every device whole slices of every gate and the gate arithmetic needs no
communication. The input projection of all time steps is one matmul outside the recurrence; the scan carries
only the hidden-to-hidden matmul.
"""

import jax
import jax.numpy as jnp
from flax import nnx

GATES = {"lstm": 4, "gru": 3}

# Logical axes of each parameter, by path regex (see genjax/train/sharding.py).
PARAM_AXES = (
    (r"embed/embedding$", ("vocab", "embed")),
    (r"rnn\d+/wi$", ("embed", None, "hidden")),
    (r"rnn\d+/wh$", (None, None, "hidden")),
    (r"rnn\d+/b$", (None, "hidden")),
    (r"rnn\d+/bhn$", ("hidden",)),
    (r"head/kernel$", ("hidden", "vocab")),
    (r"head/bias$", ("vocab",)),
)


class Recurrent(nnx.Module):
  """One LSTM or GRU layer over [batch, time, features]."""

  def __init__(self, cell, features, hidden, *, rngs):
    if cell not in GATES:
      raise ValueError(f"unknown cell {cell!r}; use one of {sorted(GATES)}")
    g = GATES[cell]
    self.cell, self.hidden = cell, hidden
    self.wi = nnx.Param(nnx.initializers.lecun_normal(in_axis=0, out_axis=(1, 2))(
        rngs.params(), (features, g, hidden)))
    self.wh = nnx.Param(_orthogonal_gates(rngs.params(), g, hidden))
    bias = jnp.zeros((g, hidden))
    if cell == "lstm":
      bias = bias.at[1].set(1.0)  # forget gate starts open: gradients flow through time from step one
    self.b = nnx.Param(bias)
    if cell == "gru":
      self.bhn = nnx.Param(jnp.zeros((hidden,)))

  def zero_carry(self, batch, dtype=jnp.float32):
    h = jnp.zeros((batch, self.hidden), dtype)
    return (h, h) if self.cell == "lstm" else (h,)

  def __call__(self, x, carry):
    xi = jnp.einsum("btf,fgh->tbgh", x, self.wi[...]) + self.b[...]
    wh = self.wh[...]
    step = self._lstm_step if self.cell == "lstm" else self._gru_step
    carry, ys = jax.lax.scan(lambda c, xt: step(c, xt, wh), carry, xi)
    return jnp.swapaxes(ys, 0, 1), carry

  @staticmethod
  def _lstm_step(carry, xt, wh):
    h, c = carry
    z = xt + jnp.einsum("bh,hgk->bgk", h, wh)
    i, f, g, o = jax.nn.sigmoid(z[:, 0]), jax.nn.sigmoid(z[:, 1]), jnp.tanh(z[:, 2]), jax.nn.sigmoid(z[:, 3])
    c = f * c + i * g
    h = o * jnp.tanh(c)
    return (h, c), h

  def _gru_step(self, carry, xt, wh):
    (h,) = carry
    zh = jnp.einsum("bh,hgk->bgk", h, wh)
    r = jax.nn.sigmoid(xt[:, 0] + zh[:, 0])
    u = jax.nn.sigmoid(xt[:, 1] + zh[:, 1])
    n = jnp.tanh(xt[:, 2] + r * (zh[:, 2] + self.bhn[...]))
    h = (1 - u) * n + u * h
    return (h,), h


def _orthogonal_gates(key, gates, hidden):
  """An orthogonal [hidden, hidden] block per gate: keeps the recurrence well conditioned at init."""
  blocks = nnx.initializers.orthogonal()(key, (gates, hidden, hidden))
  return jnp.transpose(blocks, (1, 0, 2))


class CharRNN(nnx.Module):
  """Embedding -> stacked recurrent layers -> logits, with dropout between layers (not through time)."""

  def __init__(self, vocab, embed, hidden, layers, cell="lstm", dropout=0.0, *, rngs):
    self.embed = nnx.Embed(vocab, embed, rngs=rngs)
    self.layers, self.dropout = layers, dropout
    for i in range(layers):
      setattr(self, f"rnn{i}", Recurrent(cell, embed if i == 0 else hidden, hidden, rngs=rngs))
    self.head = nnx.Linear(hidden, vocab, rngs=rngs)

  def rnns(self):
    return [getattr(self, f"rnn{i}") for i in range(self.layers)]

  def zero_carry(self, batch):
    return tuple(r.zero_carry(batch) for r in self.rnns())

  def __call__(self, tokens, carry=None, dropout_rng=None):
    """tokens int [B, T] -> (logits [B, T, V], carry). Dropout is on only when `dropout_rng` is given."""
    carry = self.zero_carry(tokens.shape[0]) if carry is None else carry
    x = self.embed(tokens)
    new_carry = []
    for i, (rnn, c) in enumerate(zip(self.rnns(), carry)):
      x = self._drop(x, dropout_rng, i)
      x, c = rnn(x, c)
      new_carry.append(c)
    x = self._drop(x, dropout_rng, self.layers)
    return self.head(x), tuple(new_carry)

  def _drop(self, x, rng, i):
    if rng is None or self.dropout == 0:
      return x
    keep = jax.random.bernoulli(jax.random.fold_in(rng, i), 1 - self.dropout, x.shape)
    return jnp.where(keep, x / (1 - self.dropout), 0)
