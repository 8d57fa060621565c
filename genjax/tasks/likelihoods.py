"""Pixel likelihoods for image models: Bernoulli for binary pixels, discretized logistic or Gaussian for
pixels with `levels` intensity levels (256 for 8-bit images, 17 for scikit-learn's digits).

The discretized families put one bin of width 2/(levels-1) around every level in [-1, 1] and integrate the
density over it (edge bins take the tails), so log p(x) is a proper discrete log-probability in nats,
comparable across models, as in PixelCNN++ (Salimans et al. 2017) with one mixture component.
"""

import jax
import jax.numpy as jnp
import optax
from jax.scipy.special import log_ndtr

KINDS = ("bernoulli", "logistic", "gaussian")
OUTPUTS = {"bernoulli": 1, "logistic": 2, "gaussian": 2}  # decoder outputs per pixel channel
_LOG_CDF = {"logistic": jax.nn.log_sigmoid, "gaussian": log_ndtr}


def log_prob(kind, out, x, levels):
  """Per-image log p(x) in nats. out [..., H, W, C * OUTPUTS[kind]], x [..., H, W, C] in [0, 1]."""
  axes = (-3, -2, -1)
  if kind == "bernoulli":
    return -optax.sigmoid_binary_cross_entropy(out, x).sum(axes)
  mean, log_scale = jnp.split(out, 2, axis=-1)
  inv_scale = jnp.exp(-jnp.maximum(log_scale, -7.0))
  level = jnp.round(x * (levels - 1))
  half = 1.0 / (levels - 1)
  centre = 2.0 * level / (levels - 1) - 1.0
  hi, lo = (centre + half - mean) * inv_scale, (centre - half - mean) * inv_scale
  log_cdf = _LOG_CDF[kind]
  # The bin's mass from whichever tail is smaller, so it keeps precision far from the mean.
  left = mean > centre
  log_upper = jnp.where(left, log_cdf(hi), log_cdf(-lo))  # log CDF(hi)  or  log SF(lo)
  log_lower = jnp.where(left, log_cdf(lo), log_cdf(-hi))  # log CDF(lo)  or  log SF(hi)
  inner = log_upper + jnp.log(-jnp.expm1(jnp.minimum(log_lower - log_upper, -1e-7)))
  logp = jnp.where(level == 0, log_cdf(hi), jnp.where(level == levels - 1, log_cdf(-lo), inner))
  return logp.sum(axes)


def mean_image(kind, out):
  """The likelihood's mean (Bernoulli probability, or the location) as an image in [0, 1]."""
  if kind == "bernoulli":
    return jax.nn.sigmoid(out)
  return jnp.clip((jnp.split(out, 2, axis=-1)[0] + 1.0) / 2.0, 0.0, 1.0)
