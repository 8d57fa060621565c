"""InfoGAN codes for the DCGAN (model.codes > 0): the code reaches the generator only, the critic's code head
learns to read it back from the fakes, both losses carry gan.info_weight times that cross-entropy, samples
follow `--label` as a code, and the settings that cannot combine are user errors."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from genjax.errors import UserError
from genjax.tasks.gan import GANTask
from tests.tasks.smoke_cli import config

CODES = 4


def make(**over):
  return GANTask(config("gan_mnist", **{"model.codes": CODES, **over}), {"shape": [28, 28, 1]})


@pytest.fixture(scope="module")
def trained():
  """The :smoke InfoGAN after 30 steps at learning rate 1e-2 on one batch of noise images: (task, initial state,
  final state, the code cross-entropy per step)."""
  task = make(**{"optim.lr": 1e-2, "steps": 30})
  state = task.init(jax.random.PRNGKey(0))
  batch = {"image": jax.random.uniform(jax.random.PRNGKey(2), (16, 28, 28, 1))}
  step, new, ce = jax.jit(task.train_step), state, []
  for _ in range(30):
    new, metrics = step(new, batch)
    ce.append(float(metrics["code_ce"]))
  return task, state, new, ce


def test_the_code_head_learns_to_read_the_code_back(trained):
  task, _, new, ce = trained
  assert abs(ce[0] - np.log(CODES)) < 0.3  # an untrained head cannot tell the codes apart
  assert np.mean(ce[-5:]) < 0.5 * np.log(CODES)
  model = task._bind(new["params"], new["stats"])
  codes = jnp.arange(64) % CODES
  fakes = model.g(jax.random.normal(jax.random.PRNGKey(5), (64, task.config.model.z)), label=codes)
  _, logits = model.d(fakes, with_codes=True)
  assert float((logits.argmax(-1) == codes).mean()) > 0.6  # chance: 1 / CODES


def test_samples_follow_the_code_and_codes_outside_the_range_are_refused(trained):
  task, _, new, _ = trained
  draw = lambda label: task.sample(new["params"], jax.random.PRNGKey(1), 4, label=label)  # noqa: E731
  assert (draw(3) == draw(3)).all() and not (draw(3) == draw(1)).all()
  with pytest.raises(UserError, match="must be a class 0..3"):
    draw(CODES)


def test_both_losses_carry_the_weighted_code_cross_entropy(trained):
  """The generator's loss at info_weight 2 exceeds its loss at 0 by twice the code head's cross-entropy on the
  same fakes, and the critic's likewise: both networks are paid to make the code recognizable."""
  task, state, _, _ = trained
  params, stats, n = state["params"], state["stats"], 8
  z, codes = jax.random.normal(jax.random.PRNGKey(3), (n, task.config.model.z)), jnp.arange(n) % CODES
  model = task._bind(params, stats)
  fakes = model.g(z, label=codes)
  ce = optax.softmax_cross_entropy_with_integer_labels(model.d(fakes, with_codes=True)[1], codes).mean()
  real = jax.random.uniform(jax.random.PRNGKey(4), (n, 28, 28, 1)) * 2 - 1
  rng = jax.random.PRNGKey(6)
  losses = {}
  for w in (0.0, 2.0):
    weighted = make(**{"gan.info_weight": w})
    g = weighted._generator_loss(params["g"], params, stats, n, (z, codes), rng)
    d = weighted._critic_loss(params["d"], params, stats, n, (real, None, codes, z, jnp.zeros(n)), rng)[0]
    losses[w] = (g, d)
  np.testing.assert_allclose(losses[2.0][0] - losses[0.0][0], 2 * ce, rtol=1e-4)
  np.testing.assert_allclose(losses[2.0][1] - losses[0.0][1], 2 * ce, rtol=1e-4)


def test_the_critic_reads_no_code_and_the_generator_no_label(trained):
  task, state, _, _ = trained
  assert "project" not in state["params"]["d"]  # no label projection: the critic is unconditional
  kernel = state["params"]["g"]["inp"]["kernel"]
  assert kernel.shape[0] == task.config.model.z + CODES


def test_code_settings_are_checked():
  with pytest.raises(UserError, match="conditioned on labels or learns its own codes, not both"):
    GANTask.check_config(config("gan_mnist", **{"model.codes": 10, "model.classes": 10}))
  with pytest.raises(UserError, match="InfoGAN codes are built for model.arch='dcgan'"):
    GANTask.check_config(config("wavegan_fsdd", **{"model.codes": 10}))
  with pytest.raises(UserError, match="gan.info_weight=-1.0 must be >= 0"):
    GANTask.check_config(config("gan_mnist", **{"model.codes": 10, "gan.info_weight": -1.0}))
