import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from genjax.errors import UserError
from genjax.tasks.autoregressive import AutoregressiveTask
from tests.tasks.smoke_cli import config
from genjax.train import sharding

VOCAB = list("abcdefgh \n")


def make_task(**model):
  c = config("char_rnn_pydoc", steps=200, **{"optim.lr": 1e-2}, **{f"model.{k}": v for k, v in model.items()})
  return AutoregressiveTask(c, {"vocab": VOCAB})


@pytest.fixture(scope="module")
def task():
  return make_task()


def tokens(batch=16, length=33, seed=0):
  return jnp.asarray(np.random.default_rng(seed).integers(0, len(VOCAB), (batch, length)), jnp.int32)


def test_train_step_lowers_loss_on_a_tiny_batch(task):
  state = task.init(jax.random.PRNGKey(0))
  batch = {"tokens": jnp.tile(jnp.arange(len(VOCAB), dtype=jnp.int32), (16, 4))[:, :33]}  # learnable cycle
  step = jax.jit(task.train_step)
  losses = []
  for _ in range(30):
    state, metrics = step(state, batch)
    losses.append(float(metrics["loss"]))
  assert losses[0] == pytest.approx(np.log(len(VOCAB)), abs=0.2)
  assert losses[-1] < losses[0] - 1.0
  assert int(state["step"]) == 30


def test_eval_step_weights_and_units(task):
  state = task.init(jax.random.PRNGKey(0))
  batch = {"tokens": tokens(4), "weight": jnp.array([1.0, 1.0, 0.0, 0.0])}
  sums = task.eval_step(state, batch)
  assert float(sums["units"]) == 2 * 32 and float(sums["examples"]) == 2
  full = task.eval_step(state, {"tokens": tokens(4)[:2], "weight": jnp.ones(2)})
  np.testing.assert_allclose(sums["nll"], full["nll"], rtol=1e-6)
  out = task.summarize(jax.device_get(sums))
  assert out["bits_per_char"] == pytest.approx(out["loss"] / np.log(2))


def test_jit_step_on_a_data_model_mesh_has_the_expected_shardings():
  task = make_task(hidden=8, layers=2)
  mesh = sharding.make_mesh((4, 2))
  shapes = jax.eval_shape(task.init, jax.random.PRNGKey(0))
  state_sh = sharding.state_shardings(shapes, task.tx, task.PARAM_AXES, task.config.rules, mesh)
  batch_sh = jax.sharding.NamedSharding(mesh, P("data"))
  state = jax.jit(task.init, out_shardings=state_sh)(jax.random.PRNGKey(0))
  step = jax.jit(task.train_step, in_shardings=(state_sh, batch_sh), out_shardings=(state_sh, None),
                 donate_argnums=0)
  state, metrics = step(state, {"tokens": jax.device_put(tokens(8), batch_sh)})
  params = state["params"]
  assert params["rnn0"]["wh"].sharding.spec == P(None, "model", None)  # [gate, hidden, in]
  assert params["rnn1"]["b"].sharding.spec == P(None, "model")
  assert params["head"]["kernel"].sharding.spec == P("model", None)
  assert params["embed"]["embedding"].sharding.spec == P(None, None)
  mu = state["opt_state"][1][0].mu
  assert mu["rnn0"]["wh"].sharding.spec == P(None, "model", None)
  assert {s.data.shape for s in params["rnn0"]["wh"].addressable_shards} == {(4, 4, 8)}
  assert np.isfinite(float(metrics["loss"]))
  # Same numbers as an unsharded step: sharding changes the layout, not the math.
  ref_state, ref_metrics = jax.jit(task.train_step)(task.init(jax.random.PRNGKey(0)), {"tokens": tokens(8)})
  np.testing.assert_allclose(metrics["loss"], ref_metrics["loss"], rtol=1e-5)


def test_sample_prompt_and_settings(task):
  params = task.init(jax.random.PRNGKey(0))["params"]
  out = task.sample(params, jax.random.PRNGKey(1), prompt="ab", n=3, length=7, temperature=1.0, top_k=0)
  assert len(out) == 3 and all(len(s) == 7 and set(s) <= set(VOCAB) for s in out)
  greedyish = task.sample(params, jax.random.PRNGKey(1), prompt="ab", n=2, length=5, temperature=1.0, top_k=1)
  assert greedyish[0] == greedyish[1]  # top-1 is deterministic whatever the key
  sample = functools.partial(task.sample, params, jax.random.PRNGKey(1), prompt="a")
  with pytest.raises(UserError, match="temperature"):
    sample(n=1, length=3, temperature=-1.0, top_k=0)
  with pytest.raises(UserError, match="at least 1"):
    sample(n=0, length=3, temperature=1.0, top_k=0)
  with pytest.raises(UserError, match="never saw"):
    task.sample(params, jax.random.PRNGKey(1), prompt="xyz", n=1, length=3, temperature=1.0, top_k=0)


def test_bad_model_config_is_a_user_error():
  with pytest.raises(UserError, match="model.cell"):
    AutoregressiveTask.check_config(config("char_rnn_pydoc", **{"model.cell": "transformer"}))
  with pytest.raises(UserError, match="pixel_rnn"):
    AutoregressiveTask.check_config(config("char_rnn_pydoc", **{"modality": "image"}))
