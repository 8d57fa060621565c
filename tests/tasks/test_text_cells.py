"""Text beyond the char-RNN: the sentence VAE and the char-level WGAN-GP, their configs through the CLI."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genjax.data import text
from genjax.errors import UserError
from genjax.models import text_gan
from genjax.tasks import gan
from genjax.tasks.gan import GANTask
from genjax.tasks.vae import VAETask, kl_weight
from tests.tasks.smoke_cli import config, train_twice

LINES = ["to be or not", "that is the question"]


def test_kl_weight_schedules():
  assert float(kl_weight(0, 0, "linear")) == 1.0
  np.testing.assert_allclose([float(kl_weight(s, 10, "linear")) for s in (0, 4, 9, 50)], [0.1, 0.5, 1.0, 1.0])
  logistic = [float(kl_weight(s, 10, "logistic")) for s in (0, 4, 9, 50)]
  np.testing.assert_allclose(logistic[1], 0.5)  # half-way at half the warm-up
  np.testing.assert_allclose(logistic[0], 1 / (1 + np.exp(4.0)), rtol=1e-6)
  assert logistic[0] < logistic[1] < logistic[2] < logistic[3] <= 1.0 and logistic[2] > 0.99


def test_gradient_penalty_on_one_hot_lines_matches_finite_differences():
  critic_net = text_gan.Critic(4, 5, 8, 1, rngs=nnx.Rngs(0))
  critic = lambda x: 3.0 * critic_net(x)  # noqa: E731  (far from 1-Lipschitz: the penalty is not ~0)
  x = jax.nn.one_hot(jax.random.randint(jax.random.key(1), (3, 4), 0, 5), 5)
  flat, h = np.asarray(x, np.float64).reshape(3, 20), 1e-3
  f = lambda v: np.asarray(critic(jnp.asarray(v, jnp.float32).reshape(x.shape)), np.float64)  # noqa: E731
  grads = np.stack([(f(flat + h * e) - f(flat - h * e)) / (2 * h) for e in np.eye(20)], axis=1)
  expected = np.mean((np.linalg.norm(grads, axis=1) - 1.0) ** 2)
  assert expected > 0.05
  np.testing.assert_allclose(float(gan.gradient_penalty(critic, x).mean()), expected, rtol=1e-2)


def meta():
  return {"vocab": text.Vocab.build("".join(LINES) + "\n").chars}


def line_batch(task, lines=LINES, repeat=8):
  length = task.config.data.seq_len
  arrays = text.line_source([ln[:length] for ln in lines] * repeat, task.modality.vocab, length).arrays
  return {k: jnp.asarray(v) for k, v in arrays.items()}


@pytest.fixture(scope="module")
def trained_vae():
  """A smoke-sized sentence VAE fitted to two lines (no KL warm-up, a strong learning rate)."""
  c = config("sentence_vae_shakespeare", **{"optim.lr": 1e-2, "optim.warmup_steps": 0, "data.seq_len": 24,
                                            "model.char_dropout": 0.0, "free_bits": 0.5, "steps": 300})
  VAETask.check_config(c)
  task = VAETask(c, meta())
  state, step = task.init(jax.random.PRNGKey(0)), jax.jit(task.train_step)
  batch, losses = line_batch(task), []
  for _ in range(300):
    state, metrics = step(state, batch)
    losses.append(float(metrics["loss"]))
  return task, state, losses


def test_sentence_vae_trains_and_its_bounds_are_ordered(trained_vae):
  task, state, losses = trained_vae
  assert np.mean(losses[-10:]) < 0.3 * np.mean(losses[:10])
  batch = dict(line_batch(task, repeat=1), weight=jnp.array([1.0, 0.0]))
  sums = jax.jit(task.eval_step)(state, batch)
  assert float(sums["examples"]) == 1 and float(sums["units"]) == len(LINES[0]) + 1  # the line and its newline
  assert float(sums["nll_iw"]) <= float(sums["neg_elbo"]) + 1e-3
  out = task.summarize({k: float(v) for k, v in sums.items()})
  assert out["nll_iw_per_char"] == pytest.approx(out["nll_iw"] / (len(LINES[0]) + 1))


def test_interpolation_endpoints_decode_back_to_their_inputs(trained_vae):
  task, state, _ = trained_vae
  path = task.interpolate(state["params"], LINES[0], LINES[1], steps=5)
  assert len(path) == 5 and path[0] == LINES[0] and path[-1] == LINES[1]
  samples = task.sample(state["params"], jax.random.PRNGKey(3), n=6)
  assert len(samples) == 6 and all(isinstance(s, str) and "\n" not in s for s in samples)


def test_interpolation_endpoints_are_checked(trained_vae):
  task, state, _ = trained_vae
  with pytest.raises(UserError, match="interpolation endpoint has characters the model never saw: 'z'"):
    task.interpolate(state["params"], "to bez", LINES[1])
  with pytest.raises(UserError, match="must be one line of 1 to 24 characters"):
    task.interpolate(state["params"], "to be " * 5, LINES[1])


def test_text_gan_step_and_argmax_decoding():
  c = config("text_gan_shakespeare", **{"data.seq_len": 12})
  GANTask.check_config(c)
  task = GANTask(c, meta())
  state = task.init(jax.random.PRNGKey(0))
  batch = line_batch(task, repeat=8)
  assert task.modality.signal(batch).shape == (16, 12, len(meta()["vocab"]))
  state, metrics = jax.jit(task.train_step)(state, batch)
  assert all(np.isfinite(float(v)) for v in metrics.values()) and float(metrics["gp"]) >= 0
  samples = task.sample(state["params"], jax.random.PRNGKey(1), n=5)
  assert len(samples) == 5 and all(len(s) <= 12 and "\n" not in s for s in samples)
  assert task.modality.decode_signal(task.modality.signal(batch))[:2] == [LINES[0], LINES[1][:12]]


def test_line_models_need_line_units():
  with pytest.raises(UserError, match="data.unit=line"):
    VAETask.check_config(config("sentence_vae_shakespeare", **{"data.unit": "window"}))
  with pytest.raises(UserError, match="data.unit=line"):
    GANTask.check_config(config("text_gan_shakespeare", **{"data.unit": "window"}))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sentence_vae_shakespeare", "sentence_vae_tang_poetry", "text_gan_shakespeare",
                                  "text_gan_tang_poetry"])
def test_text_cell_cli_train_resume_sample_eval(name, shared_data, tmp_path, repo_root, capsys, monkeypatch):
  monkeypatch.chdir(repo_root)
  workdir, seq_len = str(tmp_path / name), config(name).data.seq_len
  run = train_twice(f"configs/{name}.py:smoke", workdir)
  capsys.readouterr()
  assert run("sample", "--workdir", workdir, "-n", "7") == 0
  path = capsys.readouterr().err.split("written to ")[1].rstrip(")\n")
  with open(path, encoding="utf-8") as f:
    lines = f.read().split("\n")[:-1]
  assert len(lines) == 7 and all(len(ln) <= seq_len for ln in lines)  # one sample per line
  assert run("eval", "--workdir", workdir, "--config.eval_images=64") == 0  # the first 64 lines: the same path
  out = capsys.readouterr().out
  assert "jsd_4gram" in out and "jsd_4gram_real" in out and "judge_nll_real" in out
  assert ("format_pass_real" if "tang" in name else "word_share_real") in out
  if "vae" in name:
    assert "nll_iw_per_char" in out and " kl " in out
    assert os.path.exists(os.path.join(workdir, "samples", "step_20_interpolations.txt"))
    a, b = ("床前明月光，疑是地上霜。", "春眠不覺曉，處處聞啼鳥。") if "tang" in name else ("ROMEO:", "Go to.")
    assert run("sample", "--workdir", workdir, "--interpolate", a, b, "-n", "5") == 0
    assert len(capsys.readouterr().out.rstrip("\n").split("\n")) == 5
    assert run("sample", "--workdir", workdir, "--interpolate", a + "\u2603", b) == 2
    assert "never saw" in capsys.readouterr().err
