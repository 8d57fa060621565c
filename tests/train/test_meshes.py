"""Any mesh, the same training: a few steps of one task per family on meshes (8, 1), (4, 2), (2, 4) and (1, 8)
of the 8 fake devices, with parameters split over 'model' by the rules and over 'data' by FSDP, give the
losses of the same steps on one device."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec as P

from genjax import tasks
from genjax.train import sharding, trainer
from tests.tasks.smoke_cli import config

MESHES = [(8, 1), (4, 2), (2, 4), (1, 8)]


def images(seed):
  return {"image": jnp.asarray(np.random.default_rng(seed).random((16, 28, 28, 1)), jnp.float32)}


def tokens(seed):
  return {"tokens": jnp.asarray(np.random.default_rng(seed).integers(0, 10, (16, 33)), jnp.int32)}


FAMILIES = {  # config, data meta, batches
    "autoregressive": ("char_rnn_pydoc", {"vocab": list("abcdefgh \n")}, tokens),
    "vae": ("vae_mnist", {"shape": [28, 28, 1]}, images),
    "gan": ("gan_mnist", {"shape": [28, 28, 1]}, images),
}


def run_steps(step, state, batches):
  out = []
  for batch in batches:
    state, metrics = step(state, batch)
    out.append(jax.device_get(metrics))
  return state, out


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_every_mesh_and_fsdp_train_as_one_device(family):
  name, meta, make = FAMILIES[family]
  batches = [make(i) for i in range(2)]
  c = config(name)
  task = tasks.get(c.task)(c, meta)
  _, expected = run_steps(jax.jit(task.train_step), task.init(jax.random.PRNGKey(c.seed)), batches)
  for shape in MESHES:
    c = config(name, **{"mesh.shape": shape, "fsdp": True})
    run = trainer.Run(c, None, meta, None)
    state = run.init_state()
    split = [x for x in jax.tree.leaves(state["params"]) if "data" in x.sharding.spec]
    assert split or shape[0] == 1, f"FSDP split no parameter over 'data' on {shape}"
    state, got = run_steps(run.train_step, state, [jax.device_put(b, run.batch_sh) for b in batches])
    for want, have in zip(expected, got):
      for key in want:
        np.testing.assert_allclose(have[key], want[key], rtol=2e-4, atol=1e-5, err_msg=f"{key} on {shape}")


def test_fsdp_splits_each_large_parameter_over_data_once():
  mesh = sharding.make_mesh((4, 2))
  replicated, tensor = NamedSharding(mesh, P()), NamedSharding(mesh, P(None, "model"))
  assert sharding.over_data((30, 64), replicated).spec == P(None, "data")  # the largest axis dividing by 4
  assert sharding.over_data((64, 30), replicated).spec == P("data", None)
  assert sharding.over_data((30, 64), tensor).spec == P(None, "model")  # its only whole axis does not divide
  assert sharding.over_data((8, 256), tensor).spec == P("data", "model")
  assert sharding.over_data((16,), replicated).spec == P()  # too small to be worth gathering
