import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from PIL import Image

from genjax.errors import UserError
from genjax.models import layers
from genjax.models import wavegan
from genjax.tasks import gan
from genjax.tasks.gan import GANTask
from tests.tasks.smoke_cli import config, train_twice


def make_task(**over):
  c = config("gan_mnist", **over)
  GANTask.check_config(c)
  return GANTask(c, {"shape": [28, 28, 1]})


def test_gradient_penalty_matches_finite_differences():
  a = jax.random.normal(jax.random.key(0), (12, 3))
  critic = lambda x: jnp.tanh(x.reshape(x.shape[0], -1) @ a).sum(-1) * 3.0  # noqa: E731
  x = jax.random.normal(jax.random.key(1), (5, 2, 2, 3), jnp.float64 if jax.config.x64_enabled else jnp.float32)
  flat, h = np.asarray(x, np.float64).reshape(5, 12), 1e-3
  f = lambda v: np.asarray(critic(jnp.asarray(v, jnp.float32).reshape(x.shape)), np.float64)  # noqa: E731
  grads = np.stack([(f(flat + h * e) - f(flat - h * e)) / (2 * h) for e in np.eye(12)], axis=1)
  expected = np.mean((np.linalg.norm(grads, axis=1) - 1.0) ** 2)
  assert expected > 0.1  # a critic far from 1-Lipschitz, so the check has something to compare
  np.testing.assert_allclose(float(gan.gradient_penalty(critic, x).mean()), expected, rtol=1e-2)
  np.testing.assert_allclose(gan.input_grad_sq(critic, x), np.sum(grads ** 2, axis=1), rtol=1e-2)  # R1's


def test_losses_on_known_critic_outputs():
  real, fake = jnp.array([2.0, -1.0]), jnp.array([0.5, -3.0])
  np.testing.assert_allclose(gan.d_loss("hinge", real, fake), [0.0 + 1.5, 2.0 + 0.0])
  np.testing.assert_allclose(gan.d_loss("wgan_gp", real, fake), [-1.5, -2.0])
  np.testing.assert_allclose(gan.d_loss("non_saturating", real, fake),
                             np.log1p(np.exp(-np.array([2.0, -1.0]))) + np.log1p(np.exp([0.5, -3.0])), rtol=1e-6)
  np.testing.assert_allclose(gan.g_loss("non_saturating", fake), np.log1p(np.exp(-np.array([0.5, -3.0]))), rtol=1e-6)
  np.testing.assert_allclose(gan.g_loss("hinge", fake), [-0.5, 3.0])


def test_spectral_normalization_converges_to_unit_norm():
  w = jax.random.normal(jax.random.key(0), (4, 4, 3, 8))
  u = jnp.ones(8) / jnp.sqrt(8.0)
  for _ in range(30):
    normalized, u = layers.spectral_normalize(w, u)
  assert float(jnp.linalg.norm(normalized.reshape(-1, 8), ord=2)) == pytest.approx(1.0, abs=1e-3)


def strokes(n=16, seed=0):
  x = np.zeros((n, 28, 28, 1), np.float32)
  for i, c in enumerate(np.random.default_rng(seed).integers(4, 24, n)):
    x[i, 4:24, c:c + 3] = 1.0
  return jnp.asarray(x)


def test_wgan_gp_step_with_spectral_norm_and_critic_steps():
  task = make_task(**{"gan.loss": "wgan_gp", "gan.n_critic": 2, "model.spectral_norm": True, "optim.warmup_steps": 0})
  state = task.init(jax.random.PRNGKey(0))
  u0 = state["stats"]["d"]["conv0_u"]
  g0, ema0 = state["params"]["g"], state["params"]["g_ema"]
  new, metrics = jax.jit(task.train_step)(state, {"image": strokes()})
  assert set(metrics) == {"d_loss", "d_real", "d_fake", "gp", "d_grad_norm", "g_loss", "grad_norm"}
  assert all(np.isfinite(float(v)) for v in metrics.values()) and float(metrics["gp"]) > 0
  assert not np.allclose(new["stats"]["d"]["conv0_u"], u0)  # the power iteration advanced
  assert int(new["opt_state"]["d"][1][0].count) == 2 and int(new["opt_state"]["g"][1][0].count) == 1
  # EMA warm-up: decay 0.1 at step 0
  expect = jax.tree.map(lambda e, g: 0.1 * e + 0.9 * g, ema0, new["params"]["g"])
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), new["params"]["g_ema"], expect)
  assert not np.allclose(new["params"]["g"]["inp"]["kernel"], g0["inp"]["kernel"])


def test_critic_learns_to_separate_real_from_fake():
  task = make_task(**{"optim.lr": 2e-3})
  state = task.init(jax.random.PRNGKey(0))
  step = jax.jit(task.train_step)
  for _ in range(15):
    state, metrics = step(state, {"image": strokes()})
  assert float(metrics["d_real"]) > float(metrics["d_fake"])
  out = task.sample(state["params"], jax.random.PRNGKey(1), n=3)
  assert out.shape == (3, 28, 28, 1) and out.dtype == np.uint8


def test_critic_learning_rate_is_its_own_with_d_lr():
  """TTUR: Adam's first step moves each weight by its network's learning rate (sign of the gradient)."""
  task = make_task(**{"gan.d_lr": 4e-3, "optim.lr": 1e-4, "optim.warmup_steps": 0})
  params = task.model.init_with_stats(jax.random.PRNGKey(0))[0]
  opt_state = task.tx.init(params)
  for name, lr in (("d", 4e-3), ("g", 1e-4)):
    ones = jax.tree.map(jnp.ones_like, params[name])
    new, _ = task.tx.apply(name, params[name], ones, opt_state[name])
    moved = jax.tree.leaves(jax.tree.map(lambda a, b: jnp.abs(a - b).max(), new, params[name]))
    np.testing.assert_allclose(np.array(moved), lr, rtol=1e-3)


def test_bad_gan_settings_are_user_errors():
  with pytest.raises(UserError, match="divide batch_size"):
    make_task(**{"gan.n_critic": 3})
  with pytest.raises(UserError, match="gan.loss"):
    make_task(**{"gan.loss": "lsgan"})
  with pytest.raises(UserError, match="gan.d_lr"):
    make_task(**{"gan.d_lr": -1e-4})
  with pytest.raises(UserError, match="WGAN-GP has its own penalty"):
    make_task(**{"gan.loss": "wgan_gp", "gan.r1": 1.0})
  with pytest.raises(UserError, match=r"gan.r1=-1.0 must be >= 0"):
    make_task(**{"gan.r1": -1.0})
  with pytest.raises(UserError, match=r"gan.r1_every=0 must be >= 1"):
    make_task(**{"gan.r1": 1.0, "gan.r1_every": 0})


def test_r1_enters_the_critic_loss_and_gradient():
  """The penalty is reported as `gp` and enters the critic's loss and gradient (Adam's first step moves by the
  gradient's sign, so the gradient is compared, not the step)."""
  batch = {"image": strokes()}
  plain, r1 = (make_task(**{"gan.loss": "hinge", "model.spectral_norm": True, "gan.r1": w}) for w in (0.0, 10.0))
  state = r1.init(jax.random.PRNGKey(0))
  (_, ma), (_, mb) = (jax.jit(t.train_step)(state, batch) for t in (plain, r1))
  assert float(ma["gp"]) == 0.0 and float(mb["gp"]) > 0
  assert float(mb["d_loss"]) > float(ma["d_loss"])
  assert abs(float(mb["d_grad_norm"]) - float(ma["d_grad_norm"])) > 1e-3 * float(ma["d_grad_norm"])


def test_lazy_r1_applies_the_penalty_every_kth_step_k_times_as_strong():
  """gan.r1_every=4: on step 0 the loss carries 4x the penalty of r1_every=1; on step 1 it is the plain loss."""
  batch, cfg = {"image": strokes()}, {"gan.loss": "hinge", "model.spectral_norm": True}
  plain, every, lazy = (make_task(**cfg, **{"gan.r1": w, "gan.r1_every": k})
                        for w, k in ((0.0, 1), (10.0, 1), (10.0, 4)))
  state = lazy.init(jax.random.PRNGKey(0))
  step = {t: jax.jit(t.train_step) for t in (plain, every, lazy)}
  (_, m0p), (_, m0e), (_, m0l) = (step[t](state, batch) for t in (plain, every, lazy))
  np.testing.assert_allclose(float(m0l["gp"]), float(m0e["gp"]), rtol=1e-5)
  np.testing.assert_allclose(float(m0l["d_loss"]) - float(m0p["d_loss"]),
                             4 * (float(m0e["d_loss"]) - float(m0p["d_loss"])), rtol=1e-4)
  later = dict(state, step=state["step"] + 1)
  (_, m1p), (_, m1l) = (step[t](later, batch) for t in (plain, lazy))
  assert float(m1l["gp"]) == 0.0
  np.testing.assert_allclose(float(m1l["d_loss"]), float(m1p["d_loss"]), rtol=1e-6)


@pytest.mark.slow
def test_gan_cli_train_resume_sample_eval(shared_data, tmp_path, repo_root, capsys, monkeypatch):
  monkeypatch.chdir(repo_root)
  workdir = str(tmp_path / "gan")
  run = train_twice("configs/gan_mnist.py:smoke", workdir)
  assert Image.open(os.path.join(workdir, "samples", "step_20.png")).size == (2 * 30 + 2, 2 * 30 + 2)
  assert run("sample", "--workdir", workdir, "-n", "9") == 0
  assert Image.open(os.path.join(workdir, "samples", "sample_step_20.png")).size == (3 * 30 + 2, 3 * 30 + 2)
  assert run("sample", "--workdir", workdir, "-n", "3", "--separate", "--seed", "1") == 0
  assert sorted(os.listdir(os.path.join(workdir, "samples", "sample_step_20"))) == ["0000.png", "0001.png", "0002.png"]
  assert Image.open(os.path.join(workdir, "samples", "sample_step_20", "0002.png")).size == (28, 28)
  assert run("eval", "--workdir", workdir, "--config.batch_size=1000") == 0  # the whole split, in 10 batches
  last = capsys.readouterr().out.strip().splitlines()[-1].split()
  metrics = dict(zip(last[::2], map(float, last[1::2])))
  assert metrics["images"] == 10000 and metrics["quality_samples"] == 200
  assert metrics["fid"] > metrics["real_fid_test_vs_train"] > 0


def test_phase_shuffle_keeps_length_and_is_the_identity_at_shift_0():
  x = jnp.arange(2 * 6 * 1, dtype=jnp.float32).reshape(2, 6, 1)
  assert wavegan.phase_shuffle(x, jax.random.key(0), 0) is x and wavegan.phase_shuffle(x, None, 2) is x
  shifted = np.asarray(wavegan.phase_shuffle(x, jax.random.key(3), 2))[..., 0]
  assert shifted.shape == (2, 6)
  rows = np.asarray(x)[..., 0]
  reflect = lambda r, k: np.pad(r, 2, mode="reflect")[2 - k: 2 - k + 6]  # noqa: E731  out[t] = x[t - k]
  for row, out in zip(rows, shifted):  # each example is its row moved by one k in -2..2, reflected at the ends
    assert any(np.array_equal(out, reflect(row, k)) for k in range(-2, 3))
  many = np.asarray(wavegan.phase_shuffle(jnp.tile(x[:1], (64, 1, 1)), jax.random.key(1), 2))[..., 0]
  assert len({tuple(r) for r in many}) == 5  # every shift -2..2 occurs


def test_wavegan_architecture_trains():
  c = config("wavegan_fsdd", **{"gan.loss": "hinge", "data.length": 512})  # WGAN-GP: the audio CLI test
  GANTask.check_config(c)
  task = GANTask(c, {"rate": 8000, "length": 512})
  state = task.init(jax.random.PRNGKey(0))
  model = task.model.bind({"g": state["params"]["g"], "d": state["params"]["d"]})
  fake, score = nnx.jit(lambda m, z: (m.g(z), m.d(m.g(z))))(model, jnp.ones((3, 8)))  # one compile, not per op
  assert fake.shape == (3, 512, 1) and float(jnp.abs(fake).max()) <= 1.0
  assert score.shape == (3,)
  clips = jnp.sin(jnp.linspace(0, 60, 512))[None, :] * jnp.ones((16, 1)) * 0.5
  _, metrics = jax.jit(task.train_step)(state, {"audio": clips, "mask": jnp.ones_like(clips)})
  assert all(np.isfinite(float(v)) for v in metrics.values())
  with pytest.raises(UserError, match="does not generate audio"):
    GANTask.check_config(config("wavegan_fsdd", **{"model.arch": "dcgan"}))
