"""Char-level RNN language model on text: next-character cross-entropy, sampling with temperature/top-k."""

import hashlib
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from genjax.data import text
from genjax.config import require
from genjax.errors import UserError
from genjax.models import rnn
from genjax.tasks import common
from genjax.train import optim


class CharRNNTask:
  PARAM_AXES = rnn.PARAM_AXES

  @staticmethod
  def load_data(config):
    train, val = text.load(config.data)
    vocab = text.Vocab.build(train, val)
    meta = {"vocab": vocab.chars, "train_chars": len(train), "val_chars": len(val),
            "fingerprint": hashlib.sha256(train.encode("utf-8")).hexdigest()}
    seq = config.data.seq_len + 1
    identity = lambda x: x  # noqa: E731  (windows are already token arrays)
    return common.Data(train=text.Windows(vocab.encode(train), seq), eval=text.Chunks(vocab.encode(val), seq),
                       transform=identity, eval_transform=identity, meta=meta)

  @staticmethod
  def check_config(config):
    m = config.model
    require(m.cell in rnn.CELLS, f"model.cell={m.cell!r} must be one of {sorted(rnn.CELLS)}")
    for key in ("layers", "embed", "hidden"):
      require(isinstance(m[key], int) and m[key] >= 1, f"model.{key}={m[key]!r} must be a positive integer")
    require(0 <= m.dropout < 1, f"model.dropout={m.dropout} must be in [0, 1)")
    require(config.data.seq_len >= 2, f"data.seq_len={config.data.seq_len} must be at least 2")
    require(0 < config.data.val_fraction < 1, f"data.val_fraction={config.data.val_fraction} must be in (0, 1)")

  def __init__(self, config, meta):
    self.config = config
    self.vocab = text.Vocab(meta["vocab"])
    m = config.model
    self.model = common.PureModel(lambda rngs: rnn.CharRNN(
        len(self.vocab), m.embed, m.hidden, m.layers, m.cell, m.dropout, rngs=rngs))
    self.tx = optim.make(config.optim, config.steps)
    self._samplers = {}

  def init(self, rng):
    init_rng, state_rng = jax.random.split(rng)
    return common.new_state(self.model.init(init_rng), self.tx, state_rng)

  def _nll(self, params, tokens, dropout_rng=None):
    """Per-position negative log-likelihood in nats, computed in float32."""
    logits, _ = self.model.bind(params)(tokens[:, :-1], dropout_rng=dropout_rng)
    return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), tokens[:, 1:])

  def train_step(self, state, batch):
    loss_fn = lambda p: self._nll(p, batch["tokens"], common.step_rng(state)).mean()  # noqa: E731
    loss, grads = jax.value_and_grad(loss_fn)(state["params"])
    state = common.apply_gradients(state, grads, self.tx)
    return state, {"loss": loss, "grad_norm": optax.tree.norm(grads)}

  def eval_step(self, state, batch):
    nll = self._nll(state["params"], batch["tokens"]).sum(axis=1)
    w = batch["weight"]
    return {"nll": (nll * w).sum(), "chars": w.sum() * (batch["tokens"].shape[1] - 1)}

  @staticmethod
  def summarize(totals):
    nats = totals["nll"] / totals["chars"]
    return {"loss": nats, "bits_per_char": nats / math.log(2), "chars": totals["chars"]}

  def sample(self, params, rng, n, length, prompt="\n", temperature=1.0, top_k=0):
    """n continuations of `prompt`, `length` characters each (prompt excluded), as strings."""
    check_sampling(n, length, temperature, top_k)
    top_k = min(top_k, len(self.vocab))
    prompt = prompt or ("\n" if "\n" in self.vocab.index else self.vocab.chars[0])
    self.vocab.check_prompt(prompt)
    ids = np.broadcast_to(self.vocab.encode(prompt), (n, len(prompt)))
    out = self._sampler(length, top_k)(params, rng, jnp.asarray(ids), jnp.float32(temperature))
    return [self.vocab.decode(row) for row in np.asarray(out)]

  def _sampler(self, length, top_k):
    """A jitted sampler per (length, top_k): prime on the prompt, then scan one character at a time."""
    if (length, top_k) not in self._samplers:
      def run(params, rng, prompt_ids, temperature):
        model = self.model.bind(params)
        logits, carry = model(prompt_ids)

        def step(c, r):
          last_logits, carry = c
          scaled = last_logits.astype(jnp.float32) / temperature
          if top_k:
            kth = jax.lax.top_k(scaled, top_k)[0][:, -1:]
            scaled = jnp.where(scaled < kth, -jnp.inf, scaled)
          tok = jax.random.categorical(r, scaled)
          logits, carry = model(tok[:, None], carry)
          return (logits[:, -1], carry), tok

        _, toks = jax.lax.scan(step, (logits[:, -1], carry), jax.random.split(rng, length))
        return toks.T
      self._samplers[(length, top_k)] = jax.jit(run)
    return self._samplers[(length, top_k)]

  def write_samples(self, samples, stem):
    """The samples as text at `stem`.txt; returns its path."""
    path = stem + ".txt"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
      f.write("\n\n=====\n\n".join(samples) + "\n")
    os.replace(tmp, path)
    return path


MAX_SAMPLES, MAX_LENGTH = 4096, 1_000_000


def check_sampling(n, length, temperature, top_k):
  if n < 1 or length < 1:
    raise UserError(f"asked for {n} samples of {length} steps; both must be at least 1")
  if n > MAX_SAMPLES or length > MAX_LENGTH:
    raise UserError(f"asked for {n} samples of {length} steps; one call makes at most {MAX_SAMPLES} samples of "
                    f"{MAX_LENGTH} steps (memory grows with both): run several calls with --seed")
  if not temperature > 0 or not math.isfinite(temperature):
    raise UserError(f"temperature {temperature} must be a positive number (try 0.8; lower is more conservative)")
  if top_k < 0:
    raise UserError(f"top_k {top_k} must be 0 (off) or a positive number of candidates")
