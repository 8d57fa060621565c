"""Recurrent language models (LSTM, GRU) over token ids.

Each layer keeps its gates on their own axis (`[in, gate, hidden]` input kernels, `[gate, hidden, in]`
recurrent ones: the layout the per-step matmul reads, so sampling step by step never transposes them), so
sharding 'hidden' over the 'model' mesh axis gives every device whole slices of every gate and the gate
arithmetic needs no communication. The input projection of all time steps is one matmul outside the
recurrence; the scan carries only the hidden-to-hidden matmul, forward and (see `recurrence`) backward.

With a compute `dtype` (mixed precision) every matmul, forward and backward, runs in it, while the carry
(h and the LSTM cell state) stays float32: rounding c to bfloat16 at every step would accumulate over time.
With `remat` (a jax.checkpoint policy) a layer keeps only its input for the backward pass, plus what the
policy saves (under 'dots_saveable', the input projection), and recomputes its scan there.
"""

import functools

import jax
import jax.numpy as jnp
from flax import nnx

from genjax.models.layers import compute, remat

# Logical axes of each parameter, by path regex (see genjax/train/sharding.py).
PARAM_AXES = (
    (r"embed/embedding$", ("vocab", "embed")),
    (r"rnn\d+/wi$", ("embed", None, "hidden")),
    (r"rnn\d+/wh$", (None, "hidden", None)),
    (r"rnn\d+/b$", (None, "hidden")),
    (r"rnn\d+/bhn$", ("hidden",)),
    (r"head/kernel$", ("hidden", "vocab")),
    (r"head/bias$", ("vocab",)),
)


class Recurrent(nnx.Module):
  """One LSTM or GRU layer over time-major [time, batch, features]: each step reads and writes contiguous
  [batch, ...] blocks, and no [B, T] <-> [T, B] transposes of the activations are needed around the scan."""

  def __init__(self, cell, features, hidden, *, dtype=None, remat="none", rngs):
    if cell not in CELLS:
      raise ValueError(f"unknown cell {cell!r}; use one of {sorted(CELLS)}")
    g = CELLS[cell].GATES
    self.cell, self.hidden, self.dtype, self.remat = cell, hidden, dtype, remat
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
    return remat(self._layer, self.remat)(x, carry)

  def _layer(self, x, carry):
    x, wi, b = compute(self.dtype, x, self.wi[...], self.b[...])
    xi = jnp.einsum("tbf,fgh->tbgh", x, wi) + b
    w = compute(self.dtype, *((self.wh[...],) if self.cell == "lstm" else (self.wh[...], self.bhn[...])))
    return recurrence(CELLS[self.cell], xi, w, carry)


class LSTMCell:
  """LSTM step and its hand-written backward step, feature-major: carry (h, c) [H, B], inputs [4, H, B]
  in gate order i, f, g, o; `w` is (the recurrent matrix [4H, H],)."""

  GATES = 4

  @staticmethod
  def step(carry, xt, w):
    h, c = carry
    z = xt + (w[0] @ h.astype(w[0].dtype)).reshape(xt.shape)
    i, f, g, o = jax.nn.sigmoid(z[0]), jax.nn.sigmoid(z[1]), jnp.tanh(z[2]), jax.nn.sigmoid(z[3])
    c = f * c + i * g
    tc = jnp.tanh(c)
    return (o * tc, c), (jnp.stack([i, f, g, o]), tc)

  @staticmethod
  def grad_step(dcarry, prev, res, wmat):
    """(dh, dc) of this step's output carry -> (those of its input carry, (d input pre-activations, None)):
    the recurrent pre-activations get the same gradient, so nothing else is kept. wmat is [H, 4H]."""
    dh, dc = dcarry
    (a, tc), c_prev = res, prev[1]
    i, f, g, o = a[0], a[1], a[2], a[3]
    dc = dc + dh * o * (1 - tc * tc)
    dz = jnp.stack([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                    dh * tc * o * (1 - o)])
    return (_matmul(wmat, dz, dh.dtype), dc * f), (dz, None)

  @staticmethod
  def weight_grads(h_prev, dxi, _):
    return (jnp.einsum("tbh,tbgk->gkh", h_prev, dxi),)


class GRUCell:
  """GRU step (reset gate applied after the recurrent matmul, as cuDNN) and its backward, feature-major as
  LSTMCell; `w` is (the recurrent matrix [3H, H], bhn)."""

  GATES = 3

  @staticmethod
  def step(carry, xt, w):
    (h,) = carry
    zh = (w[0] @ h.astype(w[0].dtype)).reshape(xt.shape)
    r, u = jax.nn.sigmoid(xt[0] + zh[0]), jax.nn.sigmoid(xt[1] + zh[1])
    hn = zh[2] + w[1][:, None]
    n = jnp.tanh(xt[2] + r * hn)
    return ((1 - u) * n + u * h,), (r, u, n, hn)

  @staticmethod
  def grad_step(dcarry, prev, res, wmat):
    (dh,), (h_prev,) = dcarry, prev
    r, u, n, hn = res
    dan = dh * (1 - u) * (1 - n * n)
    dar, dau = dan * hn * r * (1 - r), dh * (h_prev - n) * u * (1 - u)
    dxi = jnp.stack([dar, dau, dan])
    dhn = dan * r  # the recurrent pre-activations' gradient differs from dxi only in the n gate
    dzh = jnp.stack([dar, dau, dhn])
    return (dh * u + _matmul(wmat, dzh, dh.dtype),), (dxi, dhn)

  @staticmethod
  def weight_grads(h_prev, dxi, dhn):
    ru = jnp.einsum("tbh,tbgk->gkh", h_prev, dxi[:, :, :2])  # r and u: the same as the input gradient
    n = jnp.einsum("tbh,tbk->kh", h_prev, dhn)
    return jnp.concatenate([ru, n[None]]), dhn.sum((0, 1))


CELLS = {"lstm": LSTMCell, "gru": GRUCell}


def _matmul(wmat, dz, dtype):
  """wmat [H_in, gates * H] @ dz [gates, H, B] in wmat's dtype, returned in the carry's `dtype`."""
  return (wmat @ dz.reshape(-1, dz.shape[-1]).astype(wmat.dtype)).astype(dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def recurrence(cell, xi, w, carry):
  """Scan `cell` over time: xi [T, B, gates, H] input pre-activations -> (hidden states [T, B, H], carry).

  The scan runs feature-major ([H, B] per step; each step transposes its inputs and outputs inside the loop,
  fused with its elementwise work): XLA CPU computes the recurrent [gH, H] x [H, B] matmul ~30% faster than
  [B, H] x [H, gH] (the skinny operand is the one it packs). Autodiff of a scan would also accumulate the
  recurrent weight gradient inside the loop, one skinny matmul per step; the custom backward pass runs only
  the hidden-to-hidden chain in reverse and sums the weight gradient afterwards as one [H, T*B] x [T*B, gH]
  matmul, as cuDNN and oneDNN do.
  """
  ys, carry, _ = _forward(cell, xi, w, carry)
  return ys, carry


def _feature_major(a):
  return jnp.moveaxis(a, 0, -1)  # one step's [B, ...] -> [..., B]


def _batch_major(a):
  return jnp.moveaxis(a, -1, 0)


def _transposed(carry):
  return tuple(c.T for c in carry)


def _forward(cell, xi, w, carry):
  rec = w[0].reshape(-1, w[0].shape[-1])  # [gates * H, H_in]

  def step(c, xt):  # the layout changes fuse into the step's elementwise work
    new, res = cell.step(c, _feature_major(xt), (rec, *w[1:]))
    return new, (new[0].T, c, res)
  carry, (ys, prevs, res) = jax.lax.scan(step, _transposed(carry), xi)
  return ys, _transposed(carry), (prevs, res)


def _recurrence_fwd(cell, xi, w, carry):
  ys, last, (prevs, res) = _forward(cell, xi, w, carry)
  return (ys, last), (w, carry[0], ys, prevs, res)


def _recurrence_bwd(cell, saved, grads):
  w, h0, ys, prevs, res = saved
  dys, dcarry = grads
  wmat = jnp.transpose(w[0], (2, 0, 1)).reshape(w[0].shape[-1], -1)  # [H_in, gates * H], once per call

  def step(dc, inp):
    dy, prev, r = inp
    dc, per_step = cell.grad_step((dc[0] + dy.T, *dc[1:]), prev, r, wmat)
    return dc, jax.tree.map(_batch_major, per_step)
  dcarry0, (dxi, extra) = jax.lax.scan(step, _transposed(dcarry), (dys, prevs, res), reverse=True)
  # Cotangents in their primals' dtypes: xi and w share the compute dtype (Recurrent casts both).
  h_prev, dxi, extra = jax.tree.map(lambda a: a.astype(w[0].dtype), (jnp.concatenate([h0[None], ys[:-1]]), dxi,
                                                                      extra))  # the LSTM's extra is None
  dw = tuple(g.astype(p.dtype) for g, p in zip(cell.weight_grads(h_prev, dxi, extra), w))
  return dxi, dw, _transposed(dcarry0)


recurrence.defvjp(_recurrence_fwd, _recurrence_bwd)


def _orthogonal_gates(key, gates, hidden):
  """An orthogonal [hidden, hidden] block per gate: keeps the recurrence well conditioned at init."""
  return nnx.initializers.orthogonal()(key, (gates, hidden, hidden))


class CharRNN(nnx.Module):
  """Embedding -> stacked recurrent layers -> logits, with dropout between layers (not through time)."""

  def __init__(self, vocab, embed, hidden, layers, cell="lstm", dropout=0.0, *, dtype=None, remat="none", rngs):
    self.embed = nnx.Embed(vocab, embed, dtype=dtype, rngs=rngs)
    self.layers, self.dropout = layers, dropout
    for i in range(layers):
      setattr(self, f"rnn{i}", Recurrent(cell, embed if i == 0 else hidden, hidden, dtype=dtype, remat=remat,
                                         rngs=rngs))
    self.head = nnx.Linear(hidden, vocab, dtype=dtype, rngs=rngs)

  def rnns(self):
    return [getattr(self, f"rnn{i}") for i in range(self.layers)]

  def zero_carry(self, batch):
    return tuple(r.zero_carry(batch) for r in self.rnns())

  def __call__(self, tokens, carry=None, dropout_rng=None):
    """tokens int [B, T] -> (float32 logits [B, T, V], carry). Dropout is on only when `dropout_rng` is
    given."""
    carry = self.zero_carry(tokens.shape[0]) if carry is None else carry
    x = self.embed(tokens.T)  # time-major from here to the logits
    new_carry = []
    for i, (rnn, c) in enumerate(zip(self.rnns(), carry)):
      x = self._drop(x, dropout_rng, i)
      x, c = rnn(x, c)
      new_carry.append(c)
    x = self._drop(x, dropout_rng, self.layers)
    return jnp.swapaxes(self.head(x), 0, 1).astype(jnp.float32), tuple(new_carry)

  def _drop(self, x, rng, i):
    if rng is None or self.dropout == 0:
      return x
    keep = jax.random.bernoulli(jax.random.fold_in(rng, i), 1 - self.dropout, x.shape)
    return jnp.where(keep, x / (1 - self.dropout), 0)
