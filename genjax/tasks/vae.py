"""The VAE family: KL warm-up and free bits, ELBO and importance-weighted bounds, over any encoder/decoder.

The family's bounds (`_terms`, the ELBO, IWAE) are written once; a head adapts them to a model and the
likelihood of its modality: `PixelHead` (conv VAE, pixel likelihoods) and `TokenHead` (sentence VAE over text
lines, a categorical likelihood per character). The modality supplies data, sample writing and sample
quality (FID/KID/IS for images; n-gram JSD and the judge for text).

With the Bernoulli likelihood, training binarizes dynamically (a fresh Bernoulli sample of every image each
step) and evaluation uses one fixed binarization of the test set, so numbers compare with the literature
(about 86-87 nats for a one-layer VAE). Discretized logistic or Gaussian likelihoods model multi-level pixels
as they are (`data.levels` levels).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from genjax import modalities
from genjax.config import compute_dtype, remat_policy, require
from genjax.data import images, text
from genjax.errors import UserError
from genjax.models import conv_vae, sentence_vae
from genjax.modalities.image import check_temperature, grid_image, to_u8, write_png
from genjax.modalities.text import write_text
from genjax.tasks import common, likelihoods
from genjax.train import optim

LOG_2PI = math.log(2 * math.pi)
SCHEDULES = ("linear", "logistic")


def iw_chunk(k, batch, decode_batch):
  """The most of the k importance samples that divides k and keeps samples x batch within `decode_batch`
  decodings (at least 1)."""
  most = max(1, decode_batch // batch)
  return max(d for d in range(1, min(k, most) + 1) if k % d == 0)


def kl_weight(step, warmup, schedule):
  """The KL term's weight at (0-based) `step`: 1 without warm-up, else rising to 1 over `warmup` steps,
  linearly ((step + 1) / warmup, capped) or logistically (Bowman et al.: 1 / (1 + exp(-10 ((step + 1) /
  warmup - 1/2))), 0.5 half-way)."""
  if not warmup:
    return jnp.ones(())
  t = (jnp.asarray(step, jnp.float32) + 1) / warmup
  return jnp.minimum(1.0, t) if schedule == "linear" else jax.nn.sigmoid(10.0 * (t - 0.5))


class PixelHead:
  """Images through the conv VAE with a pixel likelihood; samples are the likelihood's mean image."""
  PARAM_AXES = conv_vae.PARAM_AXES

  def __init__(self, config, modality):
    self.config, self.modality, self.shape = config, modality, modality.shape
    self.kind, self.levels, self.classes = config.likelihood, config.data.levels, common.classes(config)

  def make(self, rngs):
    m = self.config.model
    return conv_vae.ConvVAE(self.shape, tuple(m.widths), m.latent, likelihoods.OUTPUTS[self.kind], self.classes,
                            dtype=compute_dtype(self.config), remat=remat_policy(self.config), rngs=rngs)

  def inputs(self, batch, rng=None):
    """(pixels, labels or None): binary pixels freshly binarized when training (`rng`), the held-out set
    binarized once; the labels a conditional model (model.classes > 0) reads."""
    pixels = self.modality.binary(batch, rng) if self.kind == "bernoulli" else batch["image"]
    return pixels, common.batch_labels(batch, self.classes)

  def units(self, x):
    return jnp.full(x[0].shape[:1], float(np.prod(self.shape)))

  def log_px(self, model, z, x, rng=None):
    """z [k, B, D] decoded as one batch of B*k, example-major: a flattened axis keeps the split of its outer
    dimension, so each device decodes only its examples' samples (k-major, GSPMD gathered the whole batch)."""
    del rng
    (pixels, label), (k, b) = x, z.shape[:2]
    label = None if label is None else jnp.repeat(label, k)
    out = model.decoder(jnp.swapaxes(z, 0, 1).reshape(b * k, z.shape[-1]), label)
    out = jnp.swapaxes(out.reshape(b, k, *out.shape[1:]), 0, 1)
    return likelihoods.log_prob(self.kind, out, pixels, self.levels)

  def generate(self, model, z, label, rng, temperature, greedy=False):
    del rng, temperature, greedy
    return likelihoods.mean_image(self.kind, model.decoder(z, label))

  def decode(self, out):
    return to_u8(out)

  def figures(self, task, params, data, stem, pairs=8, steps=8):
    """Reconstructions (test images over their posterior-mean reconstructions) and latent interpolations
    (rows from one test image's posterior mean to another's), as `stem`_reconstructions/_interpolations.png."""
    x, label = (jnp.asarray(a[: 2 * pairs]) for a in images.labelled(data.test))
    label = label if self.classes else None
    mean = task.encode(params, (x, label))
    recon = task.decode(params, mean, label=label)
    path = lerp(mean[:pairs], mean[pairs:], steps)  # a conditional model keeps each row's first label
    path = task.decode(params, path, label=None if label is None else jnp.repeat(label[:pairs], steps))
    grids = {"reconstructions": grid_image(np.concatenate([to_u8(x), recon]), cols=2 * pairs),
             "interpolations": grid_image(path, cols=steps)}
    return [write_png(grid, f"{stem}_{name}.png") for name, grid in grids.items()]


class TokenHead:
  """Text lines through the sentence VAE; samples decode from z after a newline until the next one."""
  PARAM_AXES = sentence_vae.PARAM_AXES

  def __init__(self, config, modality):
    self.config, self.modality = config, modality

  def make(self, rngs):
    m = self.config.model
    return sentence_vae.SentenceVAE(self.modality.vocab_size, m.embed, m.hidden, m.latent, m.char_dropout,
                                    dtype=compute_dtype(self.config), remat=remat_policy(self.config), rngs=rngs)

  def inputs(self, batch, rng=None):
    del rng
    return self.modality.tokens(batch), self.modality.mask(batch)

  @staticmethod
  def units(x):
    return x[1][:, 1:].sum(1)  # the line's characters and its closing newline

  @staticmethod
  def log_px(model, z, x, rng=None):
    return model.log_prob(z, x, rng)

  def generate(self, model, z, label, rng, temperature, greedy=False):
    del label  # check_config keeps the sentence VAE unconditional
    newline = self.modality.vocab.index["\n"]
    return model.generate(z, rng, self.config.data.seq_len + 1, newline, temperature, greedy)

  def decode(self, ids):
    """Each line up to its first newline, and never longer than the lines the model was trained on."""
    return [s.split("\n")[0][:self.config.data.seq_len] for s in self.modality.decode_tokens(ids)]

  def lines(self, values, what):
    """(tokens, mask) of the given lines, each checked against the vocabulary and the model's length."""
    for v in values:
      self.modality.vocab.check(v, what)
      if not v or len(v) > self.config.data.seq_len or "\n" in v:
        raise UserError(f"{what} {v[:30]!r} must be one line of 1 to {self.config.data.seq_len} characters")
    arrays = text.line_source(list(values), self.modality.vocab, self.config.data.seq_len).arrays
    return jnp.asarray(arrays["tokens"]), jnp.asarray(arrays["mask"])

  def interpolate(self, task, params, a, b, steps):
    """Greedy decodings along the line between the posterior means of lines `a` and `b`."""
    mean = task.encode(params, self.lines((a, b), "interpolation endpoint"))
    return task.decode(params, lerp(mean[:1], mean[1:], steps), greedy=True)

  def figures(self, task, params, data, stem, pairs=8, steps=8):
    """Greedy reconstructions of validation lines and interpolations between pairs of them, as .txt."""
    real = data.test.val_lines[: 2 * pairs]
    recon = task.decode(params, task.encode(params, self.lines(real, "validation line")), greedy=True)
    paths = [self.interpolate(task, params, real[i], real[pairs + i], steps) for i in range(len(real) // 2)]
    return [write_text(f"{stem}_reconstructions.txt", "".join(f"{r}\n -> {g}\n" for r, g in zip(real, recon))),
            write_text(f"{stem}_interpolations.txt", "\n\n".join("\n".join(p) for p in paths) + "\n")]


HEADS = {"conv_vae": PixelHead, "sentence_vae": TokenHead}
LIKELIHOODS = {"conv_vae": likelihoods.KINDS, "sentence_vae": ("categorical",)}
MODALITY = {"conv_vae": "image", "sentence_vae": "text"}


def iw_bound(log_w):
  """The importance-weighted bound log (1/k) sum_k w_k [B] from log weights [k, B]: the ELBO's one-sample
  estimate at k = 1, tighter (larger in expectation) as k grows."""
  return jax.nn.logsumexp(log_w, axis=0) - math.log(log_w.shape[0])


def analytic_kl(mean, log_var):
  """KL(q(z|x) || N(0, I)) per latent dimension [B, D] of a diagonal Gaussian posterior."""
  return 0.5 * (jnp.exp(log_var) + mean ** 2 - 1 - log_var)


def lerp(a, b, steps):
  """Rows of `steps` points from each row of a [P, D] to the same row of b, as [P * steps, D]."""
  t = jnp.linspace(0.0, 1.0, steps)[None, :, None]
  return (a[:, None] * (1 - t) + b[:, None] * t).reshape(-1, a.shape[-1])


class VAETask:

  @staticmethod
  def check_config(config):
    m = config.model
    require(m.arch in HEADS, f"model.arch={m.arch!r} must be one of {sorted(HEADS)}")
    require(config.modality == MODALITY[m.arch], f"modality={config.modality!r}: the VAE family has "
            f"{', '.join(f'{a} ({d})' for a, d in MODALITY.items())}; audio VAEs are open work")
    require(m.latent >= 1, f"model.latent={m.latent} must be at least 1")
    common.check_classes(config, "conv_vae")
    if m.arch == "conv_vae":
      require(len(m.widths) >= 1 and all(w >= 1 for w in m.widths), f"model.widths={m.widths} must be positive")
      require(2 <= config.data.levels <= 256, f"data.levels={config.data.levels} must be 2..256")
    else:
      require(config.data.unit == "line", "the sentence VAE models whole lines: set --config.data.unit=line")
      require(0 <= m.char_dropout < 1, f"model.char_dropout={m.char_dropout} must be in [0, 1)")
    require(config.eval_iw_samples >= 1, f"eval_iw_samples={config.eval_iw_samples} must be at least 1")
    require(config.eval_decode_batch >= 1, f"eval_decode_batch={config.eval_decode_batch} must be at least 1")
    require(config.train_iw_samples >= 1, f"train_iw_samples={config.train_iw_samples} must be 1 (the ELBO) or "
            "more (the IWAE bound)")
    require(config.train_iw_samples == 1 or not config.free_bits, f"free_bits={config.free_bits} floors the "
            "ELBO's analytic KL, which the IWAE bound has no term for: set free_bits=0 or train_iw_samples=1")
    modalities.get(config.modality).check_config(config)
    require(config.likelihood in LIKELIHOODS[m.arch], f"likelihood={config.likelihood!r} must be one of "
            f"{LIKELIHOODS[m.arch]} for model.arch={m.arch!r}")
    require(config.kl_schedule in SCHEDULES, f"kl_schedule={config.kl_schedule!r} must be one of {SCHEDULES}")
    require(config.free_bits >= 0, f"free_bits={config.free_bits} must be 0 (off) or positive nats per dimension")
    require(not (config.free_bits and config.get("grad_accum", 1) > 1), f"free_bits={config.free_bits} floors "
            "the whole batch's mean KL per dimension, which micro-batches cannot sum: set grad_accum=1 or free_bits=0")

  @staticmethod
  def load_data(config):
    return modalities.load_data(config, binary=config.likelihood == "bernoulli")

  def __init__(self, config, meta):
    self.config = config
    self.modality = modalities.get(config.modality)(config, meta)
    self.head = HEADS[config.model.arch](config, self.modality)
    self.PARAM_AXES = self.head.PARAM_AXES
    self.model = common.PureModel(self.head.make)
    self.tx = optim.make(config.optim, config.steps)
    self._generate = jax.jit(lambda params, z, label, rng, t, greedy: self.head.generate(
        self.model.bind(params), z, label, rng, t, greedy), static_argnums=5)
    self._encode = jax.jit(lambda params, x: self.model.bind(params).encode(x)[0])

  def init(self, rng):
    init_rng, state_rng = jax.random.split(rng)
    return common.new_state(self.model.init(init_rng), self.tx, state_rng)

  def _noise(self, rng, k, x):
    """The reparameterization's eps [k, B, D], drawn for the whole batch (micro-batches slice it)."""
    return jax.random.normal(rng, (k, jax.tree.leaves(x)[0].shape[0], self.config.model.latent))

  def _terms(self, params, x, eps, train_rng=None):
    """log p(x|z), log p(z), log q(z|x) for the posterior samples z = mean + std * eps (eps [k, B, D]): each
    [k, B]; and the analytic KL per latent dimension [B, D]. `train_rng` marks training (the decoder's
    character dropout)."""
    model = self.model.bind(params)
    posterior = model.encode(x)
    return (*self._sample_terms(model, x, posterior, eps, train_rng), analytic_kl(*posterior))

  def _sample_terms(self, model, x, posterior, eps, train_rng=None):
    """log p(x|z), log p(z), log q(z|x), each [k, B], for z = mean + std * eps from an encoded posterior:
    the importance samples reuse one encoding."""
    mean, log_var = posterior
    z = mean + jnp.exp(0.5 * log_var) * eps
    log_px = self.head.log_px(model, z, x, train_rng)
    log_pz = -0.5 * (z ** 2 + LOG_2PI).sum(-1)
    log_qz = -0.5 * (eps ** 2 + LOG_2PI + log_var).sum(-1)
    return log_px, log_pz, log_qz

  def train_step(self, state, batch):
    """One update on the batch's negative bound, summed over `grad_accum` micro-batches: the same gradient as
    the whole batch, except that the sentence VAE's character dropout draws its masks per micro-batch. With
    train_iw_samples = 1 the bound is the ELBO with the analytic KL (weighted by warm-up, floored by free
    bits); with k > 1 it is the k-sample IWAE bound (Burda et al. 2016), warm-up weighting log p(z)/q(z|x)."""
    rng = common.step_rng(state)
    in_rng, z_rng = jax.random.split(rng)
    drop_rng = jax.random.fold_in(rng, 2)
    x, k = self.head.inputs(batch, in_rng), self.config.train_iw_samples
    n = jax.tree.leaves(x)[0].shape[0]
    # [B, k, D], example-major so micro-batches slice examples; k = 1 draws the same numbers as [1, B, D].
    inputs = (x, jax.random.normal(z_rng, (n, k, self.config.model.latent)))
    beta = kl_weight(state["step"], self.config.kl_warmup_steps, self.config.kl_schedule)
    free = self.config.free_bits

    def loss_fn(params, micro):
      log_px, log_pz, log_qz, kl = self._terms(params, micro[0], jnp.swapaxes(micro[1], 0, 1), drop_rng)
      rec, kl_seq = -log_px.mean(0).sum() / n, kl.sum() / n
      if k > 1:
        return -iw_bound(log_px + beta * (log_pz - log_qz)).sum() / n, (rec, kl_seq)
      # Free bits (Kingma et al. 2016): each dimension's batch-mean KL is not pushed below `free` nats (a
      # whole-batch term: check_config refuses it with grad_accum > 1).
      kl_term = jnp.maximum(free, kl.sum(0) / n).sum() if free else kl_seq
      return rec + beta * kl_term, (rec, kl_seq)

    grad = jax.value_and_grad(loss_fn, has_aux=True)
    ((loss, (rec, kl)), grads), _ = common.accumulate(lambda micro: (grad(state["params"], micro), None), inputs,
                                                      self.config.get("grad_accum", 1))
    state = common.apply_gradients(state, grads, self.tx)
    return state, {"loss": loss, "reconstruction": rec, "kl": kl, "kl_weight": beta,
                   "grad_norm": optax.tree.norm(grads)}

  def eval_step(self, state, batch):
    """Sums over the batch of the negative ELBO, the KL and the k-sample IWAE bound on -log p(x), in nats, and
    of the units (pixels, characters) they cover."""
    x, w, k = self.head.inputs(batch), batch["weight"], self.config.eval_iw_samples
    rng = jax.random.PRNGKey(0)  # the same posterior samples at every evaluation: comparable numbers
    model = self.model.bind(state["params"])
    posterior = model.encode(x)
    kl = analytic_kl(*posterior).sum(-1)
    log_px = self._sample_terms(model, x, posterior, self._noise(rng, 1, x))[0]
    nll = -iw_bound(self._iw_log_weights(model, x, posterior, rng, k))
    return {"neg_elbo": ((kl - log_px[0]) * w).sum(), "kl": (kl * w).sum(), "nll_iw": (nll * w).sum(),
            "units": (self.head.units(x) * w).sum(), "examples": w.sum()}

  def _iw_log_weights(self, model, x, posterior, rng, k):
    """[k, B] log importance weights. The k posterior samples are drawn at once, so the bound does not depend on
    how they are chunked, and decoded `iw_chunk` at a time (lax.map), with the encoding computed once outside
    the loop: decoding the whole batch's samples in one pass spills the activations out of cache (a
    6,400-image decoder call runs at a quarter of the rate of a 512-image one on a CPU, BUILD_NOTES)."""
    eps = self._noise(rng, k, x)
    chunk = iw_chunk(k, eps.shape[1], self.config.eval_decode_batch)

    def weights(chunk_eps):
      log_px, log_pz, log_qz = self._sample_terms(model, x, posterior, chunk_eps)
      return log_px + log_pz - log_qz
    return jax.lax.map(weights, eps.reshape(k // chunk, chunk, *eps.shape[1:])).reshape(k, -1)

  def summarize(self, totals):
    """Per example (an image, a line) in nats, and the IWAE bound per unit (bits per dim, nats per char)."""
    n, unit = totals["examples"], self.modality.unit
    per_unit = totals["nll_iw"] / totals["units"]
    return {"neg_elbo": totals["neg_elbo"] / n, "kl": totals["kl"] / n, "nll_iw": totals["nll_iw"] / n,
            f"nll_iw_per_{unit}": per_unit, f"bits_per_{unit}": per_unit / math.log(2), self.modality.example: n,
            "iw_samples": self.config.eval_iw_samples}

  def encode(self, params, x):
    return self._encode(params, x)

  def decode(self, params, z, rng=None, temperature=1.0, greedy=False, label=None):
    rng = jax.random.PRNGKey(0) if rng is None else rng
    return self.head.decode(self._generate(params, z, label, rng, jnp.float32(temperature), greedy))

  def sample(self, params, rng, n, temperature=1.0, label=-1):
    """n samples decoded from z ~ N(0, temperature^2 I): images (the likelihood's means) as uint8 [n, H, W, C],
    or text lines sampled from the decoder; a conditional model's of class `label` (-1: each in turn)."""
    self.modality.check_request(n)
    check_temperature(temperature)
    labels = common.sample_labels(common.classes(self.config), n, label)
    z = temperature * jax.random.normal(rng, (n, self.config.model.latent))
    return self.decode(params, z, jax.random.fold_in(rng, 1), label=labels)

  def interpolate(self, params, a, b, steps=8):
    """Decodings along the latent line from input `a` to input `b` (text lines)."""
    if not hasattr(self.head, "interpolate"):
      raise UserError("--interpolate takes two text lines; image VAEs write interpolations with `genjax eval`")
    return self.head.interpolate(self, params, a, b, steps)

  def quality(self, params, data, n=None, log=print):
    return self.modality.quality(lambda rng, k, labels=-1: self.sample(params, rng, k, label=labels), data, n, log)

  def write_figures(self, params, data, stem):
    """Reconstructions and interpolations of held-out examples beside `stem` (PNG grids, or .txt for text)."""
    return self.head.figures(self, params, data, stem)
