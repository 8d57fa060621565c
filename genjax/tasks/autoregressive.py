"""The autoregressive family: teacher-forced maximum likelihood, exact held-out NLL, sampling on device.

One task for every modality. `model.arch` picks the network: 'char_rnn' (an LSTM/GRU over token sequences:
text characters, or audio's mu-law codes) or 'pixel_rnn' (a row LSTM over binary pixels with a masked head).
The modality supplies the inputs (`tokens` and a `mask` of real positions, or binary pixels) and turns
sampled ids or pixels back into text, waveforms or images. The loss and every metric are means over real
units only (characters, audio samples, pixels): padding never counts.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from genjax import modalities
from genjax.config import compute_dtype, remat_policy, require
from genjax.errors import UserError
from genjax.models import pixel_rnn, rnn
from genjax.tasks import common
from genjax.train import optim

ARCHS = ("char_rnn", "pixel_rnn")
MAX_SAMPLES, MAX_LENGTH = 4096, 1_000_000


class AutoregressiveTask:

  @staticmethod
  def check_config(config):
    m = config.model
    require(m.arch in ARCHS, f"model.arch={m.arch!r} must be one of {ARCHS}")
    require(m.cell in rnn.CELLS, f"model.cell={m.cell!r} must be one of {sorted(rnn.CELLS)}")
    keys = ("layers", "hidden", "head") if m.arch == "pixel_rnn" else ("layers", "embed", "hidden")
    for key in keys:
      require(isinstance(m[key], int) and m[key] >= 1, f"model.{key}={m[key]!r} must be a positive integer")
    require(m.arch != "pixel_rnn" or config.modality == "image", "model.arch='pixel_rnn' models images; "
            "use model.arch='char_rnn' for text or audio")
    require(m.arch != "char_rnn" or config.modality != "image", "images need model.arch='pixel_rnn'")
    require(0 <= m.get("dropout", 0.0) < 1, f"model.dropout={m.get('dropout')} must be in [0, 1)")
    modalities.get(config.modality).check_config(config)

  @staticmethod
  def load_data(config):
    return modalities.load_data(config, binary=True)

  def __init__(self, config, meta):
    self.config, self.arch = config, config.model.arch
    self.modality = modalities.get(config.modality)(config, meta)
    m, dtype, remat = config.model, compute_dtype(config), remat_policy(config)
    if self.arch == "pixel_rnn":
      self.PARAM_AXES = pixel_rnn.PARAM_AXES
      self.model = common.PureModel(lambda rngs: pixel_rnn.PixelRNN(
          self.modality.shape, m.hidden, m.layers, m.head, m.cell, dtype=dtype, remat=remat, rngs=rngs))
      self._pixels = jax.jit(lambda params, rng, t, n: self.model.bind(params).sample(rng, n, t), static_argnums=3)
    else:
      self.PARAM_AXES = rnn.PARAM_AXES
      self.model = common.PureModel(lambda rngs: rnn.CharRNN(
          self.modality.vocab_size, m.embed, m.hidden, m.layers, m.cell, m.dropout, dtype=dtype, remat=remat,
          rngs=rngs))
    self.tx = optim.make(config.optim, config.steps)
    self._samplers = {}

  def init(self, rng):
    init_rng, state_rng = jax.random.split(rng)
    return common.new_state(self.model.init(init_rng), self.tx, state_rng)

  def _inputs(self, batch, rng=None):
    """(model input, weights [B, U] of the units it predicts: 0 at padding). `rng` marks training: a fresh
    binarization of binary pixels."""
    if self.arch == "pixel_rnn":
      x = self.modality.binary(batch, rng)
      return x, jnp.ones((x.shape[0], math.prod(x.shape[1:])))
    tokens, mask = self.modality.tokens(batch), self.modality.mask(batch)
    return tokens, (jnp.ones(tokens[:, 1:].shape) if mask is None else mask[:, 1:].astype(jnp.float32))

  def _nll(self, params, x, rng=None):
    """Per-unit NLL in nats [B, U], computed in float32; `rng` marks training (dropout)."""
    model = self.model.bind(params)
    if self.arch == "pixel_rnn":
      return optax.sigmoid_binary_cross_entropy(model(x), x).reshape(x.shape[0], -1)
    logits, _ = model(x[:, :-1], dropout_rng=rng)
    return optax.softmax_cross_entropy_with_integer_labels(logits, x[:, 1:])

  def train_step(self, state, batch):
    """One update on the mean NLL over the batch's real units, summed over `grad_accum` micro-batches (each
    draws its own dropout masks; the rest is the whole batch's gradient)."""
    rng = common.step_rng(state)
    inputs = self._inputs(batch, rng)
    units = jnp.maximum(inputs[1].sum(), 1.0)

    def loss_fn(params, micro):
      x, weights = micro
      return (self._nll(params, x, rng) * weights).sum() / units

    grad = jax.value_and_grad(loss_fn)
    (loss, grads), _ = common.accumulate(lambda micro: (grad(state["params"], micro), None), inputs,
                                         self.config.get("grad_accum", 1))
    state = common.apply_gradients(state, grads, self.tx)
    return state, {"loss": loss, "grad_norm": optax.tree.norm(grads)}

  def eval_step(self, state, batch):
    """Sums over real examples (`weight`) of the NLL over real units, and the counts of both."""
    x, mask = self._inputs(batch)
    nll, w = self._nll(state["params"], x), batch["weight"]
    return {"nll": ((nll * mask).sum(-1) * w).sum(), "units": (mask.sum(-1) * w).sum(), "examples": w.sum()}

  def summarize(self, totals):
    """Nats and bits per unit (char, dim, sample), and nats per example (an image, a clip, a window)."""
    unit, nats = self.modality.unit, totals["nll"] / totals["units"]
    return {"loss": nats, f"bits_per_{unit}": nats / math.log(2), "nll": totals["nll"] / totals["examples"],
            f"{unit}s": totals["units"], self.modality.example: totals["examples"]}

  def sample(self, params, rng, n, length=None, prompt=None, temperature=1.0, top_k=0):
    """n samples as the modality writes them: text continuing `prompt`, `length` audio samples or
    characters (prompt excluded), or whole images (`length` and `prompt` do not apply)."""
    check_sampling(n, length or 1, temperature, top_k)
    if self.arch == "pixel_rnn":
      self.modality.check_request(n)
      return self.modality.decode_signal(2.0 * self._pixels(params, rng, jnp.float32(temperature), n) - 1.0)
    ids = self.modality.start_ids(prompt, n)
    top_k = min(top_k, self.modality.vocab_size)
    out = self._sampler(length, top_k)(params, rng, jnp.asarray(ids), jnp.float32(temperature))
    return self.modality.decode_tokens(np.asarray(out))

  def _sampler(self, length, top_k):
    """A jitted sampler per (length, top_k): prime on the start ids, then scan one token at a time."""
    if (length, top_k) not in self._samplers:
      def run(params, rng, start_ids, temperature):
        model = self.model.bind(params)
        logits, carry = model(start_ids)

        def step(c, r):
          last_logits, carry = c
          scaled = last_logits / temperature
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

  def quality(self, params, data, n=None, log=print):
    """The modality's sample-quality metrics (domain classifier) on samples of the configured length."""
    length = self.config.sample.get("length")
    generate = lambda rng, k: self.sample(params, rng, k, length=length)  # noqa: E731
    return self.modality.quality(generate, data, n, log)


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
