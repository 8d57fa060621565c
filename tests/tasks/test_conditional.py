"""Class-conditional DCGAN and conv VAE (model.classes > 0): the label reaches both networks and only them,
bad labels are user errors, and a conditional VAE trained briefly on real MNIST draws the class it is asked
for, as genjax's digit classifier sees it (`label_accuracy`)."""

import io
import json
import os

import jax
import numpy as np
import pytest

from genjax import main as cli
from genjax.data import sources
from genjax.errors import UserError
from genjax.modalities.image import check_labels
from genjax.tasks import common
from genjax.tasks.gan import GANTask
from genjax.tasks.vae import VAETask
from tests.tasks.smoke_cli import config

CELLS = {"gan": (GANTask, "gan_mnist"), "vae": (VAETask, "vae_mnist")}


def make(family, **over):
  cls, name = CELLS[family]
  return cls(config(name, **over), {"shape": [28, 28, 1]})


@pytest.mark.parametrize("family", sorted(CELLS))
def test_samples_follow_the_label_and_the_unconditional_model_refuses_one(family):
  task = make(family, **{"model.classes": 10})
  params = task.init(jax.random.PRNGKey(0))["params"]
  draw = lambda label: task.sample(params, jax.random.PRNGKey(1), 4, label=label)  # noqa: E731
  assert (draw(3) == draw(3)).all() and not (draw(3) == draw(5)).all()
  with pytest.raises(UserError, match="must be a class 0..9"):
    draw(10)
  plain = make(family)
  with pytest.raises(UserError, match="model.classes=0"):
    plain.sample(plain.init(jax.random.PRNGKey(0))["params"], jax.random.PRNGKey(1), 4, label=3)


def test_conditional_critic_reads_the_label_and_trains_its_projection():
  task = make("gan", **{"model.classes": 10})
  state = task.init(jax.random.PRNGKey(0))
  x = jax.random.uniform(jax.random.PRNGKey(2), (16, 28, 28, 1))
  batch = {"image": x, "label": jax.numpy.arange(16) % 10}
  step = jax.jit(task.train_step)
  new, metrics = step(*step(state, batch)[:1], batch)  # the :smoke warm-up's first step has learning rate 0
  assert np.isfinite(float(metrics["d_loss"]))
  moved = new["params"]["d"]["project"]["embed"]["embedding"] - state["params"]["d"]["project"]["embed"]["embedding"]
  assert float(abs(moved).max()) > 0
  critic = task._bind(new["params"], new["stats"]).d
  assert not np.allclose(critic(x * 2 - 1, label=batch["label"]), critic(x * 2 - 1, label=(batch["label"] + 1) % 10))


def test_class_settings_and_labels_are_checked():
  assert common.sample_labels(10, 12).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
  assert common.sample_labels(10, 3, 7).tolist() == [7, 7, 7]
  assert common.sample_labels(0, 3) is None
  with pytest.raises(UserError, match="class conditioning is built for model.arch='conv_vae'"):
    VAETask.check_config(config("sentence_vae_shakespeare", **{"model.classes": 10}))
  with pytest.raises(UserError, match="must be 0 .unconditional. or the number"):
    GANTask.check_config(config("gan_mnist", **{"model.classes": -1}))
  with pytest.raises(UserError, match="the train images of data.source='folder' have none"):
    check_labels(config("gan_mnist", **{"model.classes": 10, "data.source": "folder"}),
                 sources.ArraySource({"image": np.zeros((2, 28, 28, 1), np.uint8)}), None)
  with pytest.raises(UserError, match="labels span 0..11: set model.classes"):
    src = sources.ArraySource({"image": np.zeros((2, 28, 28, 1), np.uint8), "label": np.array([0, 11])})
    check_labels(config("gan_mnist", **{"model.classes": 10}), src, src)


@pytest.mark.slow
def test_conditional_vae_on_mnist_draws_the_asked_class(shared_data, tmp_path, repo_root, monkeypatch):
  """300 steps of a small conditional VAE on real MNIST, through the CLI: `sample --label 3` writes its grid,
  a label out of range exits non-zero, and `eval`'s label_accuracy (samples cycling through the classes,
  judged by the digit classifier) is far above the 1-in-10 an unconditional model scores."""
  monkeypatch.chdir(repo_root)
  w = str(tmp_path / "cvae")
  run = lambda *a: cli.main(list(a), stream=io.StringIO())  # noqa: E731
  assert run("train", "--config", "configs/vae_mnist.py:smoke", "--workdir", w, "--config.model.classes=10",
             "--config.model.widths=(16, 32)", "--config.model.latent=8", "--config.batch_size=64",
             "--config.steps=300", "--config.optim.lr=3e-3", "--config.eval_every=300", "--config.ckpt_every=300",
             "--config.sample_every=300", "--config.log_every=100") == 0
  assert run("sample", "--workdir", w, "--label", "3", "-n", "8") == 0
  assert os.path.isfile(os.path.join(w, "samples", "sample_step_300.png"))
  assert run("sample", "--workdir", w, "--label", "10") != 0
  assert run("eval", "--workdir", w) == 0
  with open(os.path.join(w, "eval_step_300.json")) as f:
    result = json.load(f)
  assert result["label_accuracy"] > 0.3, result  # chance is 0.1; measured 0.44


@pytest.mark.parametrize("variant", [None, "cpu", "smoke"])
def test_cgan_mnist_is_gan_mnist_conditioned_on_the_digit(variant):
  """configs/cgan_mnist.py ships the measured recipe: gan_mnist's, changed only in the name, the ten classes
  and (not :smoke) a 100-sample grid with one class per column and the hinge loss with spectral norm that it
  was measured with, where gan_mnist moved on to R1."""
  cond, plain = config("cgan_mnist", variant), config("gan_mnist", variant)
  GANTask.check_config(cond)
  if variant != "smoke":
    assert (cond.gan.loss, cond.model.spectral_norm, cond.gan.r1) == ("hinge", True, 0.0)
    plain.gan.update(loss="hinge", r1=0.0)
    plain.model.spectral_norm = True
  cond_d, plain_d = cond.to_dict(), plain.to_dict()
  assert {k for k, v in cond_d.items() if plain_d.get(k) != v} <= {"name", "model", "sample"}
  assert cond.model.classes == 10 and {**cond_d["model"], "classes": 0} == plain_d["model"]
  assert cond.sample.n == (plain.sample.n if variant == "smoke" else 100)
