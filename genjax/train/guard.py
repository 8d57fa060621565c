"""Non-finite guard: a step whose loss or gradient norm is NaN/Inf changes nothing but the step counter.

It wraps any task's train_step on device: no host sync per step. The state carries the length of the
current run of bad steps and where it began, so the trainer, when it fetches metrics anyway, can halt after
`patience` consecutive bad steps (policy 'halt') or keep going and count them (policy 'skip').
"""

import jax
import jax.numpy as jnp

def init():
  return {k: jnp.zeros((), jnp.int32) for k in ("streak", "streak_start", "worst", "worst_start", "skipped")}


def wrap(train_step):
  """train_step(state, batch) -> (state, metrics), with bad updates dropped and metrics zeroed for them."""

  def step(state, batch):
    new, metrics = train_step(state, batch)
    ok = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in jax.tree.leaves(metrics)]))
    kept = jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, state)
    kept["step"] = new["step"]  # the data and the per-step key move on either way
    kept["guard"] = _count(state["guard"], ok, state["step"])
    metrics = {k: jnp.where(ok, v, 0.0) for k, v in metrics.items()}
    metrics["finite"] = ok.astype(jnp.float32)
    return kept, metrics

  return step


def _count(g, ok, step):
  streak = jnp.where(ok, 0, g["streak"] + 1)
  start = jnp.where(ok | (g["streak"] > 0), g["streak_start"], step)
  worse = streak > g["worst"]
  return {"streak": streak, "streak_start": start, "worst": jnp.where(worse, streak, g["worst"]),
          "worst_start": jnp.where(worse, start, g["worst_start"]), "skipped": g["skipped"] + (~ok).astype(jnp.int32)}


def verdict(guard_state, policy, patience):
  """None while training may go on; otherwise the message to halt with (fetches a few scalars)."""
  g = {k: int(v) for k, v in jax.device_get(guard_state).items()}
  if policy == "halt" and g["worst"] >= patience:
    return (f"{g['worst']} consecutive steps with a non-finite loss or gradient, from step {g['worst_start']} on; "
            f"those updates were dropped")
  return None
