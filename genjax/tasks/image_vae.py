"""Conv VAE on binarized images: Bernoulli likelihood, KL warm-up, ELBO and importance-weighted bounds.

Training binarizes dynamically (a fresh Bernoulli sample of every image each step); evaluation uses one fixed
binarization of the test set, so numbers compare with the literature (about 86-87 nats for a one-layer VAE).
"""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
from PIL import Image

from genjax.config import require
from genjax.data import image, images
from genjax.eval import classifier, sample_quality
from genjax.errors import UserError
from genjax.models import conv_vae
from genjax.tasks import common
from genjax.train import optim

LOG_2PI = math.log(2 * math.pi)
IW_CHUNK = 50  # importance samples decoded at once


class ImageVAETask:
  PARAM_AXES = conv_vae.PARAM_AXES

  @staticmethod
  def check_config(config):
    m = config.model
    require(m.latent >= 1, f"model.latent={m.latent} must be at least 1")
    require(len(m.widths) >= 1 and all(w >= 1 for w in m.widths), f"model.widths={m.widths} must be positive")
    k = config.eval_iw_samples
    require(k >= 1 and (k <= IW_CHUNK or k % IW_CHUNK == 0),
            f"eval_iw_samples={k} must be 1..{IW_CHUNK} or a multiple of {IW_CHUNK}")
    require(len(config.data.shape) == 3, f"data.shape={config.data.shape} must be (height, width, channels)")

  @staticmethod
  def load_data(config):
    train, test = images.load(config.data)
    shape = tuple(config.data.shape)
    meta = {"shape": list(shape), "train_images": len(train), "test_images": len(test),
            "fingerprint": f"{config.data.source}:{config.data.path or config.data.tfds_name}:{len(train)}"}
    return common.Data(train=train, eval=images.fixed_binarization(test), transform=image.transform(shape),
                       eval_transform=image.transform(shape), meta=meta, test=test)

  def __init__(self, config, meta):
    self.config = config
    self.shape = tuple(meta["shape"])
    m = config.model
    self.model = common.PureModel(lambda rngs: conv_vae.ConvVAE(self.shape, tuple(m.widths), m.latent, rngs=rngs))
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
    logits = model.decoder(z.reshape(-1, z.shape[-1])).reshape(k, *x.shape)
    log_px = -optax.sigmoid_binary_cross_entropy(logits, x).sum(axis=(2, 3, 4))
    log_pz = -0.5 * (z ** 2 + LOG_2PI).sum(-1)
    log_qz = -0.5 * (eps ** 2 + LOG_2PI + log_var).sum(-1)
    kl = 0.5 * (jnp.exp(log_var) + mean ** 2 - 1 - log_var).sum(-1)  # analytic, for the training loss
    return log_px, log_pz, log_qz, kl

  def train_step(self, state, batch):
    rng = common.step_rng(state)
    bin_rng, z_rng = jax.random.split(rng)
    x = jax.random.bernoulli(bin_rng, batch["image"]).astype(jnp.float32)  # dynamic binarization
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
    """n images (Bernoulli means) decoded from z ~ N(0, temperature^2 I), as uint8 [n, H, W, C]."""
    if n < 1 or n > 4096:
      raise UserError(f"asked for {n} images; ask for 1 to 4096 per call")
    if not temperature > 0:
      raise UserError(f"temperature {temperature} must be positive (1.0 samples the prior)")
    z = temperature * jax.random.normal(rng, (n, self.config.model.latent))
    probs = jax.nn.sigmoid(self._decode(params, z))
    return (np.asarray(probs) * 255).round().astype(np.uint8)

  def quality(self, params, data, log=print):
    """FID/KID/IS of `eval_quality_samples` samples against the test set, on genjax's own classifier
    features, next to the real-data ceiling (test against train) so the numbers can be read."""
    cfg, n = self.config, self.config.eval_quality_samples
    train, test = images.labelled(data.train), images.labelled(data.test)
    name = f"{cfg.data.source}-{'x'.join(map(str, self.shape))}-{cfg.eval_classifier_steps}steps"
    clf = classifier.load_or_train(name, *train, *test, steps=cfg.eval_classifier_steps, log=log)
    fake = np.concatenate([self.sample(params, jax.random.PRNGKey(1000 + i), min(4096, n - i))
                           for i in range(0, n, 4096)]).astype(np.float32) / 255.0
    (f_fake, l_fake), (f_test, l_test) = clf(fake), clf(test[0][:n])
    f_train, _ = clf(train[0][:n])
    return {"fid": sample_quality.fid(f_fake, f_test), "kid": sample_quality.kid(f_fake, f_test)[0],
            "inception_score": sample_quality.inception_score(l_fake)[0],
            "real_fid_test_vs_train": sample_quality.fid(f_test, f_train),
            "real_kid_test_vs_train": sample_quality.kid(f_test, f_train)[0],
            "real_inception_score": sample_quality.inception_score(l_test)[0],
            "classifier_test_accuracy": clf.accuracy, "quality_samples": n}

  def write_figures(self, params, data, stem, pairs=8, steps=8):
    """Reconstructions (test images over their posterior-mean reconstructions) and latent interpolations
    (rows from one test image's posterior mean to another's), as `stem`_reconstructions/_interpolations.png."""
    x = jnp.asarray(images.labelled(data.test)[0][: 2 * pairs])
    model = self.model.bind(params)
    mean, _ = model.encoder(x)
    recon = jax.nn.sigmoid(model.decoder(mean))
    a, b = mean[:pairs], mean[pairs:]
    t = jnp.linspace(0.0, 1.0, steps)[None, :, None]
    path = (a[:, None] * (1 - t) + b[:, None] * t).reshape(pairs * steps, -1)
    lerp = jax.nn.sigmoid(model.decoder(path))
    to_u8 = lambda v: (np.asarray(v) * 255).round().astype(np.uint8)  # noqa: E731
    written = []
    for name, grid in (("reconstructions", grid_image(to_u8(jnp.concatenate([x, recon])), cols=2 * pairs)),
                       ("interpolations", grid_image(to_u8(lerp), cols=steps))):
      out = f"{stem}_{name}.png"
      os.makedirs(os.path.dirname(out), exist_ok=True)
      grid.save(out + ".tmp", format="PNG")
      os.replace(out + ".tmp", out)
      written.append(out)
    return written

  def write_samples(self, samples, stem):
    """A PNG grid at `stem`.png; returns its path."""
    path = stem + ".png"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    grid_image(samples).save(tmp, format="PNG")
    os.replace(tmp, path)
    return path


def grid_image(images_u8, pad=2, cols=None):
  """uint8 [n, H, W, C] -> one PIL image: `cols` wide, or as square a grid as n allows."""
  n, h, w, c = images_u8.shape
  cols = cols or math.ceil(math.sqrt(n))
  rows = math.ceil(n / cols)
  grid = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad, c), np.uint8)
  for i, img in enumerate(images_u8):
    r, q = divmod(i, cols)
    grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = img
  return Image.fromarray(grid[..., 0] if c == 1 else grid)
