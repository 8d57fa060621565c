import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genjax.models import rnn


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_shapes_and_carry_continuation(cell):
  model = rnn.CharRNN(vocab=11, embed=4, hidden=6, layers=2, cell=cell, rngs=nnx.Rngs(0))
  tokens = jax.random.randint(jax.random.PRNGKey(1), (3, 10), 0, 11)
  logits, carry = model(tokens)
  assert logits.shape == (3, 10, 11) and len(carry) == 2
  assert carry[0][0].shape == (3, 6) and len(carry[0]) == (2 if cell == "lstm" else 1)
  # Running in two halves with the carry handed over equals one pass: the state really flows.
  first, mid = model(tokens[:, :4])
  second, _ = model(tokens[:, 4:], mid)
  np.testing.assert_allclose(jnp.concatenate([first, second], 1), logits, rtol=1e-5, atol=1e-5)
  assert not np.allclose(model(tokens[:, 4:])[0], second)


def test_lstm_matches_textbook_equations():
  layer = rnn.Recurrent("lstm", 3, 4, rngs=nnx.Rngs(0))
  x = jax.random.normal(jax.random.PRNGKey(2), (5, 2, 3))  # time-major
  ys, _ = layer(x, layer.zero_carry(2))
  wi, wh, b = layer.wi[...], layer.wh[...], layer.b[...]
  h = c = np.zeros((2, 4))
  for t in range(5):
    z = [x[t] @ wi[:, k] + h @ wh[k].T + b[k] for k in range(4)]
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    c = sig(z[1]) * c + sig(z[0]) * np.tanh(z[2])
    h = sig(z[3]) * np.tanh(c)
    np.testing.assert_allclose(ys[t], h, rtol=1e-5, atol=1e-5)


def test_dropout_only_with_a_key():
  model = rnn.CharRNN(vocab=7, embed=4, hidden=8, layers=1, dropout=0.5, rngs=nnx.Rngs(0))
  tokens = jnp.zeros((2, 6), jnp.int32)
  np.testing.assert_array_equal(model(tokens)[0], model(tokens)[0])
  assert not np.allclose(model(tokens, dropout_rng=jax.random.PRNGKey(0))[0], model(tokens)[0])


def test_unknown_cell():
  with pytest.raises(ValueError, match="unknown cell"):
    rnn.Recurrent("rnn", 2, 2, rngs=nnx.Rngs(0))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_hand_written_backward_matches_autodiff(cell):
  """`recurrence`'s custom backward pass against jax.grad of its own forward scan."""
  cls = rnn.CELLS[cell]
  g = cls.GATES
  k = jax.random.split(jax.random.PRNGKey(3), 6)
  xi = jax.random.normal(k[0], (5, 3, g, 4))
  w = (0.5 * jax.random.normal(k[1], (g, 4, 4)),) + ((jax.random.normal(k[2], (4,)),) if cell == "gru" else ())
  carry = tuple(jax.random.normal(k[3 + i], (3, 4)) for i in range(2 if cell == "lstm" else 1))
  readout = jax.random.normal(k[5], (5, 3, 4))

  def plain(cls, xi, w, carry):  # the same forward scan, differentiated by jax
    ys, carry, _ = rnn._forward(cls, xi, w, carry)
    return ys, carry

  def loss(run):  # gradients reach the outputs and the final carry
    return lambda *args: jnp.sum(run(cls, *args)[0] * readout) + jnp.sum(run(cls, *args)[1][-1] ** 2)
  want = jax.jit(jax.grad(loss(plain), argnums=(0, 1, 2)))(xi, w, carry)
  got = jax.jit(jax.grad(loss(rnn.recurrence), argnums=(0, 1, 2)))(xi, w, carry)
  assert jax.tree.structure(got) == jax.tree.structure(want)
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
