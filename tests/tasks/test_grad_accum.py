"""Gradient accumulation: grad_accum=k sums k micro-batches in one scan and makes the whole batch's update,
for an RNN, a VAE (ELBO and IWAE bound) and a GAN (the text WGAN-GP: its networks normalize nothing over the batch)."""

import jax
import numpy as np
import pytest

from genjax import config as genjax_config
from genjax import tasks
from genjax.errors import UserError
from genjax.train import sharding, trainer
from tests.tasks.smoke_cli import config
from tests.tasks.test_text_cells import line_batch, meta as line_meta
from tests.train.test_meshes import images, run_steps, tokens

FAMILIES = {  # config, overrides, data meta, batches
    "autoregressive": ("char_rnn_pydoc", {"model.dropout": 0.0}, {"vocab": list("abcdefgh \n")}, tokens),
    "vae": ("vae_mnist", {"free_bits": 0.0}, {"shape": [28, 28, 1]}, images),
    "vae_iwae": ("vae_mnist", {"free_bits": 0.0, "train_iw_samples": 3}, {"shape": [28, 28, 1]}, images),
    "gan": ("text_gan_shakespeare", {}, line_meta(), None),
}


def family(name, **overrides):
  path, base, meta, make = FAMILIES[name]
  c = config(path, **{**base, **overrides})
  genjax_config.check(c)
  task = tasks.get(c.task)(c, meta)
  task.check_config(c)
  batches = [line_batch(task)] * 3 if make is None else [make(i) for i in range(3)]
  return c, task, [jax.tree.map(lambda x: x[:16], b) for b in batches]


@pytest.mark.parametrize("name", FAMILIES)
def test_accumulated_micro_batches_make_the_whole_batchs_update(name):
  """Three steps (the first at warm-up's zero learning rate), metrics and parameters after them."""
  results = []
  for k in (1, 4):
    c, task, batches = family(name, grad_accum=k)
    state, metrics = run_steps(jax.jit(task.train_step), task.init(jax.random.PRNGKey(c.seed)), batches)
    results.append((jax.device_get(state["params"]), metrics))
  (want_params, want), (got_params, got) = results
  for step, (a, b) in enumerate(zip(want, got)):
    for key in a:
      np.testing.assert_allclose(b[key], a[key], rtol=1e-4, atol=1e-6, err_msg=f"{key} at step {step}")
  moved = jax.tree.leaves(jax.tree.map(lambda a, b: np.abs(a - b).max(), want_params, got_params))
  assert max(moved) < 1e-5, f"parameters differ by up to {max(moved)} after accumulating"


def test_accumulation_splits_each_micro_batch_over_the_mesh():
  c, task, batches = family("autoregressive")
  _, want = run_steps(jax.jit(task.train_step), task.init(jax.random.PRNGKey(c.seed)), batches[:2])
  run = trainer.Run(config("char_rnn_pydoc", **{"model.dropout": 0.0, "grad_accum": 2, "mesh.shape": (4, 2)}),
                    None, FAMILIES["autoregressive"][2], None)
  _, got = run_steps(run.train_step, run.init_state(), [jax.device_put(b, run.batch_sh) for b in batches[:2]])
  for a, b in zip(want, got):
    np.testing.assert_allclose(b["loss"], a["loss"], rtol=1e-4)
    np.testing.assert_allclose(b["grad_norm"], a["grad_norm"], rtol=1e-4)


def test_bad_accumulation_settings_name_the_fix():
  with pytest.raises(UserError, match="grad_accum=3 must be a positive integer dividing batch_size=16"):
    genjax_config.check(config("vae_mnist", grad_accum=3))
  with pytest.raises(UserError, match="free_bits=0.5 floors the whole batch"):
    family("vae", free_bits=0.5, grad_accum=2)
  with pytest.raises(UserError, match="n_critic=2 times grad_accum=16 must divide batch_size=16"):
    family("gan", grad_accum=16)
  with pytest.raises(UserError, match=r"times grad_accum=4; set --config.batch_size to a multiple of 32"):
    sharding.check_batch(16, sharding.make_mesh((8, 1)), 4)
