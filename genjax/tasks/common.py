"""What every task shares: a pure view of an NNX model, the train-state layout, and data bundles."""

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import nnx


class PureModel:
  """An NNX model used functionally: parameters are a plain dict pytree, the module is rebuilt in jit."""

  def __init__(self, make):
    self.make = make  # rngs -> nnx.Module
    self.graphdef, self.abstract = nnx.split(nnx.eval_shape(lambda: make(nnx.Rngs(0))))

  def init(self, rng):
    return nnx.to_pure_dict(nnx.split(self.make(nnx.Rngs(params=rng)))[1])

  def bind(self, params):
    state = jax.tree.map(lambda x: x, self.abstract)
    nnx.replace_by_pure_dict(state, params)
    return nnx.merge(self.graphdef, state)


def new_state(params, tx, rng):
  """The train state pytree. Every leaf is a global array, so multi-process checkpoints work."""
  return {"params": params, "opt_state": tx.init(params), "step": jnp.zeros((), jnp.int32), "rng": rng}


def apply_gradients(state, grads, tx):
  updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
  params = jax.tree.map(jnp.add, state["params"], updates)
  return dict(state, params=params, opt_state=opt_state, step=state["step"] + 1)


def step_rng(state):
  """A fresh key per step derived from (seed key, step): resume reproduces it without storing a stream."""
  return jax.random.fold_in(state["rng"], state["step"])


@dataclasses.dataclass
class Data:
  train: Any                 # random-access source of examples
  eval: Any                  # random-access source, scored once in order
  transform: Callable        # example -> dict of arrays (the modality transform)
  eval_transform: Callable
  meta: dict                 # saved with the run (vocabulary, shapes, fingerprint)
  test: Any = None           # the held-out examples as they are (sample-quality metrics compare with them)
