"""precision='bf16': every matmul and convolution of a train step runs in bfloat16, the state stays float32,
and a smoke model's loss curve stays within 1% of float32's (yet is not identical to it)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import config as genjax_config
from genjax import tasks
from genjax.errors import UserError
from tests.tasks.smoke_cli import config
from tests.train.test_meshes import images


def pattern(seed):
  return {"tokens": jnp.asarray((np.arange(16 * 33).reshape(16, 33) * 3 + seed) % 7, jnp.int32)}


FAMILIES = {  # config, overrides, meta, batches, the loss to compare
    "autoregressive": ("char_rnn_pydoc", {"model.dropout": 0.0, "optim.lr": 1e-2}, {"vocab": list("abcdefgh \n")},
                       pattern, "loss"),
    "vae": ("vae_mnist", {"optim.lr": 1e-2}, {"shape": [28, 28, 1]}, images, "loss"),
    "gan": ("gan_mnist", {"optim.lr": 1e-3}, {"shape": [28, 28, 1]}, images, "d_loss"),
}


def matmul_dtypes(jaxpr):
  """The operand dtypes of every dot_general / convolution of two operands of 2+ dims, sub-jaxprs included."""
  for e in jaxpr.eqns:
    if e.primitive.name in ("dot_general", "conv_general_dilated") and all(v.aval.ndim >= 2 for v in e.invars):
      yield tuple(str(v.aval.dtype) for v in e.invars)
    for p in e.params.values():
      for sub in p if isinstance(p, (list, tuple)) else [p]:
        inner = getattr(sub, "jaxpr", sub)
        if hasattr(inner, "eqns"):
          yield from matmul_dtypes(inner)


def task_and_batches(name, **overrides):
  path, over, meta, make, _ = FAMILIES[name]
  c = config(path, **{**over, **overrides})
  genjax_config.check(c)
  return tasks.get(c.task)(c, meta), [make(i) for i in range(4)]


@pytest.mark.parametrize("name", FAMILIES)
def test_bf16_computes_in_bfloat16_and_tracks_the_f32_curve(name):
  curves = {}
  for precision in ("f32", "bf16"):
    task, batches = task_and_batches(name, precision=precision)
    state, step, curve = task.init(jax.random.PRNGKey(0)), jax.jit(task.train_step), []
    if precision == "bf16":
      dtypes = set(matmul_dtypes(jax.make_jaxpr(task.train_step)(state, batches[0]).jaxpr))
      assert dtypes == {("bfloat16", "bfloat16")}, dtypes
    for i in range(25):
      state, metrics = step(state, batches[i % 4])
      curve.append(float(metrics[FAMILIES[name][4]]))
    assert {str(x.dtype) for x in jax.tree.leaves(state["params"])} == {"float32"}
    curves[precision] = np.array(curve)
  diff = np.abs(curves["bf16"] - curves["f32"]) / np.abs(curves["f32"])
  assert 0 < diff.max() < 0.01, diff


def test_an_unknown_precision_names_the_choices():
  with pytest.raises(UserError, match=r"precision='fp16' must be one of \['bf16', 'f32'\]"):
    genjax_config.check(config("vae_mnist", precision="fp16"))
