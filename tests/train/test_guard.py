import jax
import jax.numpy as jnp
import numpy as np

from genjax.train import guard


def fake_step(state, batch):
  """A 'training step' whose loss is NaN at the steps listed in the batch."""
  bad = jnp.any(batch["bad_steps"] == state["step"])
  new = dict(state, params=state["params"] + 1.0, step=state["step"] + 1)
  return new, {"loss": jnp.where(bad, jnp.nan, 1.0), "grad_norm": jnp.float32(2.0)}


def run(bad_steps, n=8):
  state = {"params": jnp.zeros(3), "step": jnp.zeros((), jnp.int32), "guard": guard.init()}
  step = jax.jit(guard.wrap(fake_step))
  history = []
  for _ in range(n):
    state, metrics = step(state, {"bad_steps": jnp.asarray(bad_steps or [-1])})
    history.append(jax.device_get(metrics))
  return state, history


def test_bad_steps_change_nothing_but_the_counter():
  state, history = run([2, 3, 6])
  assert int(state["step"]) == 8
  np.testing.assert_array_equal(state["params"], np.full(3, 5.0))  # 8 steps, 3 dropped
  assert [h["finite"] for h in history] == [1, 1, 0, 0, 1, 1, 0, 1]
  assert all(np.isfinite(h["loss"]) for h in history)  # NaNs never reach the logged means
  g = jax.device_get(state["guard"])
  assert (g["skipped"], g["worst"], g["worst_start"], g["streak"]) == (3, 2, 2, 0)


def test_verdict_by_policy():
  state, _ = run([1, 2, 3])
  assert "3 consecutive steps" in guard.verdict(state["guard"], "halt", 3)
  assert "from step 1" in guard.verdict(state["guard"], "halt", 3)
  assert guard.verdict(state["guard"], "halt", 4) is None
  assert guard.verdict(state["guard"], "skip", 1) is None
