"""What every task shares: a pure view of an NNX model, the train-state layout, data bundles, and the labels
class-conditional models sample with."""

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import PartitionSpec as P

from genjax.config import require
from genjax.errors import UserError


class PureModel:
  """An NNX model used functionally: parameters are a plain dict pytree, the module is rebuilt in jit.

  Trainable parameters (nnx.Param) and any other model state ("stats", e.g. spectral-norm power-iteration
  vectors) are separate pytrees: the optimizer sees only the first.
  """

  def __init__(self, make):
    self.make = make  # rngs -> nnx.Module
    self.graphdef, self.abstract_params, self.abstract_stats = nnx.split(
        nnx.eval_shape(lambda: make(nnx.Rngs(0))), nnx.Param, ...)

  def init(self, rng):
    return self.init_with_stats(rng)[0]

  def init_with_stats(self, rng):
    _, params, stats = nnx.split(self.make(nnx.Rngs(params=rng)), nnx.Param, ...)
    return nnx.to_pure_dict(params), nnx.to_pure_dict(stats)

  def bind(self, params, stats=None):
    p, s = jax.tree.map(lambda x: x, (self.abstract_params, self.abstract_stats))
    nnx.replace_by_pure_dict(p, params)
    if stats is not None:
      nnx.replace_by_pure_dict(s, stats)
    return nnx.merge(self.graphdef, p, s)

  @staticmethod
  def stats(module):
    return nnx.to_pure_dict(nnx.state(module, nnx.Not(nnx.Param)))


def new_state(params, tx, rng):
  """The train state pytree. Every leaf is a global array, so multi-process checkpoints work."""
  return {"params": params, "opt_state": tx.init(params), "step": jnp.zeros((), jnp.int32), "rng": rng}


def apply_gradients(state, grads, tx):
  updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
  params = jax.tree.map(jnp.add, state["params"], updates)
  return dict(state, params=params, opt_state=opt_state, step=state["step"] + 1)


def over_batch(x):
  """`x` [B, ...] split over the 'data' axis like the real batch, where the step is traced under a mesh (the
  trainer's are): an array a step draws itself (a GAN's latents) is otherwise computed whole on every device."""
  mesh = jax.sharding.get_abstract_mesh()
  return x if mesh.empty or "data" not in mesh.axis_names else jax.lax.with_sharding_constraint(x, P("data"))


def micro_batches(tree, k):
  """Each [B, ...] leaf of `tree` as [k, B/k, ...], micro-batch i holding examples i, i+k, i+2k, ...: a
  strided split keeps every device's share of the batch on that device (a contiguous one would put each
  micro-batch on a few devices and move it)."""
  return jax.tree.map(lambda x: jax.vmap(over_batch)(jnp.swapaxes(x.reshape(-1, k, *x.shape[1:]), 0, 1)), tree)


def accumulate(fn, inputs, k):
  """Sums of fn(micro) over the k micro-batches of `inputs`, and the last micro-batch's `keep`, where fn
  returns (sums, keep): one lax.scan, so memory does not grow with k. A loss written as a sum over examples
  divided by the whole batch's count then sums to the whole batch's loss and gradient (`grad_accum`)."""
  if k == 1:
    return fn(inputs)
  micro = micro_batches(inputs, k)
  zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype),
                       jax.eval_shape(fn, jax.tree.map(lambda x: x[0], micro)))

  def step(carry, batch):
    sums, keep = fn(batch)
    return (jax.tree.map(jnp.add, carry[0], sums), keep), None
  return jax.lax.scan(step, zeros, micro)[0]


def step_rng(state):
  """A fresh key per step derived from (seed key, step): resume reproduces it without storing a stream."""
  return jax.random.fold_in(state["rng"], state["step"])


def classes(config):
  """model.classes: 0 (unconditional, also where a config's model section leaves it out), or how many classes
  a conditional model reads from the data's labels."""
  return config.model.get("classes", 0)


def batch_labels(batch, classes):
  """The labels [B] a conditional model (classes > 0) reads from its batch; None for an unconditional one."""
  return batch["label"] if classes else None


def check_classes(config, arch):
  n = classes(config)
  require(n >= 0, f"model.classes={n} must be 0 (unconditional) or the number of classes")
  require(not n or config.model.arch == arch, f"model.classes={n}: class conditioning is built for "
          f"model.arch={arch!r}; set model.classes=0 for {config.model.arch!r}")


def sample_labels(classes, n, label=-1):
  """int32 [n] labels to condition n samples on: `label` (one class, or one per sample), or each class in
  turn for -1; None for an unconditional model, which refuses a label."""
  if not classes:
    if np.ndim(label) or label != -1:
      raise UserError("--label conditions a class-conditional model; this run has model.classes=0")
    return None
  labels = np.arange(n) % classes if np.ndim(label) == 0 and label == -1 else np.broadcast_to(label, (n,))
  if labels.min() < 0 or labels.max() >= classes:
    raise UserError(f"--label {label} must be a class 0..{classes - 1} (or -1: each class in turn)")
  return jnp.asarray(labels, jnp.int32)


@dataclasses.dataclass
class Data:
  train: Any                 # random-access source of examples
  eval: Any                  # random-access source, scored once in order
  transform: Callable        # (batch of examples, rng) -> dict of arrays [B, ...] (the modality's batch transform)
  eval_transform: Callable
  meta: dict                 # saved with the run (vocabulary, shapes, fingerprint)
  test: Any = None           # the held-out examples as they are (sample-quality metrics compare with them)
