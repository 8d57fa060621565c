import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from genjax.tasks import likelihoods


@pytest.mark.parametrize("kind", ["logistic", "gaussian"])
@pytest.mark.parametrize("levels,mean,log_scale", [(256, 0.1, -3.0), (17, -0.9, -1.0)])
def test_discretized_probabilities_sum_to_one(kind, levels, mean, log_scale):
  x = jnp.arange(levels, dtype=jnp.float32).reshape(levels, 1, 1, 1) / (levels - 1)
  out = jnp.broadcast_to(jnp.array([mean, log_scale]), (levels, 1, 1, 2))
  logp = likelihoods.log_prob(kind, out, x, levels)
  assert np.all(np.isfinite(logp))
  assert float(jnp.exp(logp).sum()) == pytest.approx(1.0, abs=1e-4)


def test_far_tail_bins_keep_precision():
  x = jnp.full((1, 1, 1, 1), 0.0)  # level 0 of 256, the mean at the top end
  out = jnp.array([0.9, -5.0]).reshape(1, 1, 1, 2)
  mid = jnp.full((1, 1, 1, 1), 200 / 255)
  assert np.isfinite(float(likelihoods.log_prob("logistic", out, mid, 256)[0]))
  assert float(likelihoods.log_prob("gaussian", out, x, 256)[0]) < -1000  # tiny, not -inf or nan
  assert np.isfinite(float(likelihoods.log_prob("gaussian", out, x, 256)[0]))


def test_bernoulli_is_the_binary_cross_entropy():
  logits = jax.random.normal(jax.random.key(0), (3, 4, 4, 1))
  x = (jax.random.uniform(jax.random.key(1), (3, 4, 4, 1)) > 0.5).astype(jnp.float32)
  expect = -optax.sigmoid_binary_cross_entropy(logits, x).sum((1, 2, 3))
  np.testing.assert_allclose(likelihoods.log_prob("bernoulli", logits, x, 2), expect, rtol=1e-6)
  np.testing.assert_allclose(likelihoods.mean_image("logistic", jnp.array([[0.0, 1.0]])), [[0.5]])
