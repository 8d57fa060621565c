"""Sentence VAE (Bowman et al. 2016) over characters: a GRU reads a line into a Gaussian posterior; an LSTM
started from z, and reading z beside every input character, decodes it back.

Lines arrive as `tokens` [B, T + 2] (newline, the line, newlines) with a `mask` of the real positions
(genjax/data/text.py). In training, input characters are replaced by a dedicated id at `char_dropout` (the
paper's word dropout), so the decoder cannot predict from its inputs alone and has to use z.
"""

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from genjax.models import rnn

PARAM_AXES = ()  # small: replicated, data parallel is what pays


class SentenceVAE(nnx.Module):
  def __init__(self, vocab, embed, hidden, latent, char_dropout=0.0, *, dtype=None, remat="none", rngs):
    self.drop_id, self.char_dropout = vocab, char_dropout  # the extra embedding row stands for a dropped char
    self.embed = nnx.Embed(vocab + 1, embed, dtype=dtype, rngs=rngs)
    self.rnn_enc = rnn.Recurrent("gru", embed, hidden, dtype=dtype, remat=remat, rngs=rngs)
    self.posterior = nnx.Linear(hidden, 2 * latent, dtype=dtype, rngs=rngs)
    self.z_to_h = nnx.Linear(latent, hidden, dtype=dtype, rngs=rngs)
    self.rnn_dec = rnn.Recurrent("lstm", embed + latent, hidden, dtype=dtype, remat=remat, rngs=rngs)
    self.head = nnx.Linear(hidden, vocab, dtype=dtype, rngs=rngs)

  def encode(self, x):
    """(tokens, mask) -> posterior mean and log-variance [B, latent] (float32), from the GRU state at the
    newline that ends each line."""
    tokens, mask = x
    seq = tokens[:, 1:]
    h, _ = self.rnn_enc(self.embed(seq.T), self.rnn_enc.zero_carry(seq.shape[0]))  # [T, B, H]
    last = (mask[:, 1:].sum(1) - 1).astype(jnp.int32)
    out = self.posterior(h[last, jnp.arange(seq.shape[0])]).astype(jnp.float32)
    mean, log_var = jnp.split(out, 2, axis=-1)
    return mean, log_var

  def _start(self, z):
    h = jnp.tanh(self.z_to_h(z)).astype(jnp.float32)  # the carry stays float32 (see rnn.py)
    return h, jnp.zeros_like(h)

  def _inputs(self, ids, z):
    """Time-major ids [T, B] -> their embeddings beside z, [T, B, embed + latent]."""
    return jnp.concatenate([self.embed(ids), jnp.broadcast_to(z, (ids.shape[0], *z.shape))], axis=-1)

  def log_prob(self, z, x, rng=None):
    """log p(line | z) [k, B] for z [k, B, latent]: summed over each line's characters and its closing newline.
    `rng` marks training (character dropout)."""
    tokens, mask = x
    k, b = z.shape[:2]
    tokens, mask, z = jnp.tile(tokens, (k, 1)), jnp.tile(mask, (k, 1)), z.reshape(k * b, -1)
    inputs = tokens[:, :-1]
    if rng is not None and self.char_dropout:
      drop = jax.random.bernoulli(rng, self.char_dropout, inputs.shape).at[:, 0].set(False)
      inputs = jnp.where(drop, self.drop_id, inputs)
    h, _ = self.rnn_dec(self._inputs(inputs.T, z), self._start(z))
    logits = self.head(h).astype(jnp.float32)  # [T, kB, V]
    nll = optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:].T) * mask[:, 1:].T
    return -nll.sum(0).reshape(k, b)

  def generate(self, z, rng, length, start_id, temperature=1.0, greedy=False):
    """ids [B, length] decoded from z [B, latent] after `start_id`: sampled at `temperature`, or argmax."""
    def step(c, r):
      carry, tok = c
      h, carry = self.rnn_dec(self._inputs(tok[None], z), carry)
      logits = self.head(h[0]).astype(jnp.float32)
      nxt = logits.argmax(-1) if greedy else jax.random.categorical(r, logits / temperature)
      return (carry, nxt.astype(jnp.int32)), nxt.astype(jnp.int32)

    start = jnp.full((z.shape[0],), start_id, jnp.int32)
    _, ids = jax.lax.scan(step, (self._start(z), start), jax.random.split(rng, length))
    return ids.T
