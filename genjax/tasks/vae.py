"""The VAE family: KL warm-up, ELBO and importance-weighted bounds; a conv VAE with a pixel likelihood.

The family's bounds (`_terms`, the ELBO, IWAE) are written once over a model's encoder and decoder and a
likelihood; the image modality supplies data, sample writing and FID/KID/IS. Audio and text VAEs plug in a
model and a likelihood of their own.

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
from genjax.config import require
from genjax.data import images
from genjax.models import conv_vae
from genjax.modalities.image import check_temperature, grid_image, to_u8, write_png
from genjax.tasks import common, likelihoods
from genjax.train import optim

LOG_2PI = math.log(2 * math.pi)
IW_CHUNK = 50  # importance samples decoded at once


class VAETask:
  PARAM_AXES = conv_vae.PARAM_AXES

  @staticmethod
  def check_config(config):
    m = config.model
    require(m.latent >= 1, f"model.latent={m.latent} must be at least 1")
    require(len(m.widths) >= 1 and all(w >= 1 for w in m.widths), f"model.widths={m.widths} must be positive")
    k = config.eval_iw_samples
    require(k >= 1 and (k <= IW_CHUNK or k % IW_CHUNK == 0),
            f"eval_iw_samples={k} must be 1..{IW_CHUNK} or a multiple of {IW_CHUNK}")
    require(config.modality == "image", f"modality={config.modality!r}: the VAE family has an image model "
            "(conv_vae) so far; audio and text VAEs are open work")
    modalities.get(config.modality).check_config(config)
    require(config.likelihood in likelihoods.KINDS, f"likelihood={config.likelihood!r} must be one of "
            f"{likelihoods.KINDS}")
    require(2 <= config.data.levels <= 256, f"data.levels={config.data.levels} must be 2..256")

  @staticmethod
  def load_data(config):
    return modalities.get(config.modality).load_data(config, binary=config.likelihood == "bernoulli")

  def __init__(self, config, meta):
    self.config = config
    self.modality = modalities.get(config.modality)(config, meta)
    self.shape = self.modality.shape
    m = config.model
    self.kind, self.levels = config.likelihood, config.data.levels
    outputs = likelihoods.OUTPUTS[self.kind]
    self.model = common.PureModel(lambda rngs: conv_vae.ConvVAE(self.shape, tuple(m.widths), m.latent, outputs,
                                                                rngs=rngs))
    self.tx = optim.make(config.optim, config.steps)
    self._decode = jax.jit(lambda params, z: self.model.bind(params).decoder(z))

  def init(self, rng):
    init_rng, state_rng = jax.random.split(rng)
    return common.new_state(self.model.init(init_rng), self.tx, state_rng)

  def _terms(self, params, x, rng, k):
    """log p(x|z), log p(z), log q(z|x) for k posterior samples per image: each [k, B]."""
    model = self.model.bind(params)
    mean, log_var = model.encoder(x)
    eps = jax.random.normal(rng, (k, *mean.shape))
    z = mean + jnp.exp(0.5 * log_var) * eps
    out = model.decoder(z.reshape(-1, z.shape[-1]))
    log_px = likelihoods.log_prob(self.kind, out.reshape(k, *x.shape[:-1], -1), x, self.levels)
    log_pz = -0.5 * (z ** 2 + LOG_2PI).sum(-1)
    log_qz = -0.5 * (eps ** 2 + LOG_2PI + log_var).sum(-1)
    kl = 0.5 * (jnp.exp(log_var) + mean ** 2 - 1 - log_var).sum(-1)  # analytic, for the training loss
    return log_px, log_pz, log_qz, kl

  def train_step(self, state, batch):
    rng = common.step_rng(state)
    bin_rng, z_rng = jax.random.split(rng)
    x = self.modality.binary(batch, bin_rng) if self.kind == "bernoulli" else batch["image"]  # dynamic
    warm = self.config.kl_warmup_steps
    beta = jnp.minimum(1.0, (state["step"] + 1) / warm) if warm else 1.0

    def loss_fn(params):
      log_px, _, _, kl = self._terms(params, x, z_rng, 1)
      return (-log_px[0] + beta * kl).mean(), (-log_px[0].mean(), kl.mean())

    (loss, (rec, kl)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
    state = common.apply_gradients(state, grads, self.tx)
    return state, {"loss": loss, "reconstruction": rec, "kl": kl, "grad_norm": optax.tree.norm(grads)}

  def eval_step(self, state, batch):
    """Sums over the batch of the negative ELBO and of the k-sample IWAE bound on -log p(x), in nats."""
    x, w, k = batch["image"], batch["weight"], self.config.eval_iw_samples
    rng = jax.random.PRNGKey(0)  # the same posterior samples at every evaluation: comparable numbers
    log_px, _, _, kl = self._terms(state["params"], x, rng, 1)
    log_w = self._iw_log_weights(state["params"], x, rng, k)
    nll = math.log(k) - jax.nn.logsumexp(log_w, axis=0)
    return {"neg_elbo": ((kl - log_px[0]) * w).sum(), "nll_iw": (nll * w).sum(), "images": w.sum()}

  def _iw_log_weights(self, params, x, rng, k):
    """[k, B] log importance weights, IW_CHUNK samples at a time (lax.map) to bound memory and compile time."""
    chunk = min(IW_CHUNK, k)

    def weights(key):
      log_px, log_pz, log_qz, _ = self._terms(params, x, key, chunk)
      return log_px + log_pz - log_qz
    return jax.lax.map(weights, jax.random.split(rng, k // chunk)).reshape(k, x.shape[0])

  def summarize(self, totals):
    dims = float(np.prod(self.shape)) * math.log(2)
    n = totals["images"]
    neg_elbo, nll = totals["neg_elbo"] / n, totals["nll_iw"] / n
    return {"neg_elbo": neg_elbo, "nll_iw": nll, "bits_per_dim": nll / dims, "images": n,
            "iw_samples": self.config.eval_iw_samples}

  def sample(self, params, rng, n, temperature=1.0):
    """n images (the likelihood's means) decoded from z ~ N(0, temperature^2 I), as uint8 [n, H, W, C]."""
    self.modality.check_request(n)
    check_temperature(temperature)
    z = temperature * jax.random.normal(rng, (n, self.config.model.latent))
    return to_u8(likelihoods.mean_image(self.kind, self._decode(params, z)))

  def quality(self, params, data, n=None, log=print):
    return self.modality.quality(lambda rng, k: self.sample(params, rng, k), data, n, log)

  def write_figures(self, params, data, stem, pairs=8, steps=8):
    """Reconstructions (test images over their posterior-mean reconstructions) and latent interpolations
    (rows from one test image's posterior mean to another's), as `stem`_reconstructions/_interpolations.png."""
    x = jnp.asarray(images.labelled(data.test)[0][: 2 * pairs])
    model = self.model.bind(params)
    mean, _ = model.encoder(x)
    recon = likelihoods.mean_image(self.kind, model.decoder(mean))
    a, b = mean[:pairs], mean[pairs:]
    t = jnp.linspace(0.0, 1.0, steps)[None, :, None]
    path = (a[:, None] * (1 - t) + b[:, None] * t).reshape(pairs * steps, -1)
    lerp = likelihoods.mean_image(self.kind, model.decoder(path))
    grids = {"reconstructions": grid_image(to_u8(jnp.concatenate([x, recon])), cols=2 * pairs),
             "interpolations": grid_image(to_u8(lerp), cols=steps)}
    return [write_png(grid, f"{stem}_{name}.png") for name, grid in grids.items()]
