import itertools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from genjax.tasks.autoregressive import AutoregressiveTask
from tests.tasks.smoke_cli import config, train_twice


def make_task(shape=(28, 28, 1), **over):
  return AutoregressiveTask(config("pixel_rnn_mnist", **over), {"shape": list(shape)})


def test_likelihood_is_exact_probabilities_sum_to_one():
  task = make_task((2, 3, 1), **{"model.cell": "gru", "model.hidden": 8, "model.layers": 2, "model.head": 8})
  params = task.model.init(jax.random.PRNGKey(0))
  every = jnp.asarray(list(itertools.product([0.0, 1.0], repeat=6))).reshape(64, 2, 3, 1)
  probs = jnp.exp(-jax.jit(lambda p, x: task._nll(p, task._inputs({"image": x})[0]).sum(-1))(params, every))  # LSTM: below
  assert float(probs.sum()) == pytest.approx(1.0, abs=1e-5)
  assert float(probs.max()) < 0.5  # not a degenerate model that puts all mass on one image


def test_each_pixel_depends_only_on_earlier_pixels():
  task = make_task()
  params = task.model.init(jax.random.PRNGKey(0))
  logits = jax.jit(lambda x: task.model.bind(params)(x))
  x = (jax.random.uniform(jax.random.PRNGKey(1), (1, 28, 28, 1)) > 0.5).astype(jnp.float32)
  i = 13 * 28 + 5
  flipped = x.reshape(-1).at[i].set(1 - x.reshape(-1)[i]).reshape(x.shape)
  a, b = logits(x).reshape(-1), logits(flipped).reshape(-1)
  np.testing.assert_array_equal(a[: i + 1], b[: i + 1])
  assert not np.allclose(a[i + 1:], b[i + 1:])


def test_train_step_lowers_the_nll():
  task = make_task(**{"optim.lr": 1e-2, "optim.warmup_steps": 0, "optim.decay": "constant"})
  x = np.zeros((16, 28, 28, 1), np.float32)
  for k, c in enumerate(np.random.default_rng(0).integers(4, 24, 16)):
    x[k, 4:24, c:c + 3] = 1.0
  state, step = task.init(jax.random.PRNGKey(0)), jax.jit(task.train_step)
  losses = []
  for _ in range(30):
    state, metrics = step(state, {"image": jnp.asarray(x)})
    losses.append(float(metrics["loss"]))
  assert losses[-1] < 0.5 * losses[0]
  out = task.sample(state["params"], jax.random.PRNGKey(1), n=2)
  assert out.shape == (2, 28, 28, 1) and set(np.unique(out)) <= {0, 255}


@pytest.mark.slow
def test_pixel_rnn_cli_train_sample_eval(shared_data, tmp_path, repo_root, capsys, monkeypatch):
  monkeypatch.chdir(repo_root)
  workdir = str(tmp_path / "prnn")
  run = train_twice("configs/pixel_rnn_mnist.py:smoke", workdir)
  assert run("sample", "--workdir", workdir, "-n", "4") == 0
  assert Image.open(os.path.join(workdir, "samples", "sample_step_20.png")).size == (2 * 30 + 2, 2 * 30 + 2)
  assert run("eval", "--workdir", workdir, "--config.batch_size=1000") == 0
  last = capsys.readouterr().out.strip().splitlines()[-1].split()
  metrics = dict(zip(last[::2], map(float, last[1::2])))
  assert metrics["images"] == 10000 and 50 < metrics["nll"] < 784 * np.log(2)  # better than coin flips
  assert metrics["bits_per_dim"] == pytest.approx(metrics["nll"] / (784 * np.log(2)), abs=1e-4)
  assert run("eval", "--workdir", workdir, "--config.batch_size=400", "--config.eval_images=600") == 0
  assert " images 600.0000 " in capsys.readouterr().out  # the first 600 test images: two batches, one padded
