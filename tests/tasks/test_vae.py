import io
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from genjax import main as cli
from genjax.data import images, sources
from genjax.errors import UserError
from genjax.modalities.image import grid_image
from genjax.tasks.vae import VAETask, iw_chunk
from tests.tasks.smoke_cli import config, train_twice


def make_task(**over):
  c = config("vae_mnist", steps=200, **{"optim.lr": 3e-3}, **over)
  return VAETask(c, {"shape": [28, 28, 1]})


@pytest.fixture(scope="module")
def task():
  return make_task()


def strokes(n=16, seed=0):
  """Images with structure a VAE can learn: a random vertical bar per image."""
  x = np.zeros((n, 28, 28, 1), np.float32)
  cols = np.random.default_rng(seed).integers(4, 24, n)
  for i, c in enumerate(cols):
    x[i, 4:24, c:c + 3] = 1.0
  return jnp.asarray(x)


def test_train_step_lowers_the_loss(task):
  state = task.init(jax.random.PRNGKey(0))
  step = jax.jit(task.train_step)
  batch = {"image": strokes()}
  first = None
  for _ in range(40):
    state, metrics = step(state, batch)
    first = first if first is not None else float(metrics["loss"])
  assert float(metrics["loss"]) < 0.75 * first
  assert set(metrics) == {"loss", "reconstruction", "kl", "kl_weight", "grad_norm"}


def test_importance_weighting_tightens_the_bound(task):
  state = task.init(jax.random.PRNGKey(0))
  step = jax.jit(task.train_step)
  for _ in range(20):
    state, _ = step(state, {"image": strokes()})
  batch = {"image": strokes(8, seed=1), "weight": jnp.ones(8)}
  loose = jax.jit(make_task(eval_iw_samples=1).eval_step)(state, batch)
  tight = jax.jit(make_task(eval_iw_samples=50).eval_step)(state, batch)
  assert float(tight["nll_iw"]) < float(loose["nll_iw"])
  assert float(tight["nll_iw"]) <= float(tight["neg_elbo"]) + 1e-3 * 8
  # The same 50 samples decoded 8 x 6 = 48 at a time (chunks of 5) and 8 x 50 at once: the same bound.
  chunked = jax.jit(make_task(eval_iw_samples=50, eval_decode_batch=48).eval_step)(state, batch)
  np.testing.assert_allclose(float(chunked["nll_iw"]), float(tight["nll_iw"]), rtol=1e-5)
  padded = jax.jit(task.eval_step)(state, {"image": batch["image"], "weight": jnp.array([1.0] * 4 + [0.0] * 4)})
  assert float(padded["examples"]) == 4 and float(padded["units"]) == 4 * 28 * 28


def test_iwae_training_bound_is_the_elbo_at_k1_and_tightens_with_k(task):
  """The k = 1 loss (analytic KL) is the mean of one-sample bounds; k > 1 losses fall with k and train."""
  state = task.init(jax.random.PRNGKey(0))
  step = jax.jit(task.train_step)
  batch = {"image": strokes()}
  for _ in range(20):
    state, _ = step(state, batch)
  loss = {k: float(jax.jit(make_task(train_iw_samples=k).train_step)(state, batch)[1]["loss"]) for k in (1, 5, 50)}
  model, x = task.model.bind(state["params"]), task.head.inputs(batch)
  one_sample = task._iw_log_weights(model, x, model.encode(x), jax.random.PRNGKey(3), 2000)  # [k, B]
  # loss[1] draws one sample per image: its noise is the one-sample bound's spread over the batch's 16.
  noise = float(one_sample.std(0).mean()) / np.sqrt(16)
  assert abs(loss[1] + float(one_sample.mean())) < 4 * noise, (loss, float(one_sample.mean()), noise)
  assert loss[50] < loss[5] < loss[1], loss
  step = jax.jit(make_task(train_iw_samples=5).train_step)
  for _ in range(10):
    state, metrics = step(state, batch)
  assert float(metrics["loss"]) < loss[5]


def test_samples_and_grid(task):
  params = task.init(jax.random.PRNGKey(0))["params"]
  out = task.sample(params, jax.random.PRNGKey(1), n=5)
  assert out.shape == (5, 28, 28, 1) and out.dtype == np.uint8
  assert grid_image(out).size == (3 * 30 + 2, 2 * 30 + 2)
  with pytest.raises(UserError, match="1 to 4096"):
    task.sample(params, jax.random.PRNGKey(1), n=0)


def test_fixed_binarization_is_deterministic():
  src = sources.ArraySource({"image": np.full((3, 2, 2, 1), 128, np.uint8)})
  a, b = images.fixed_binarization(src), images.fixed_binarization(src)
  np.testing.assert_array_equal(a.arrays["image"], b.arrays["image"])
  assert set(np.unique(a.arrays["image"])) <= {0, 255}


def test_iw_chunk_divides_k_within_the_decode_batch():
  assert [iw_chunk(k, 128, 512) for k in (1, 50, 1000, 7)] == [1, 2, 4, 1]
  assert iw_chunk(1000, 200, 512) == 2 and iw_chunk(50, 1000, 512) == 1 and iw_chunk(50, 8, 10_000) == 50


def test_bad_iw_samples_is_a_user_error():
  with pytest.raises(UserError, match="eval_iw_samples=0 must be at least 1"):
    VAETask.check_config(config("vae_mnist", eval_iw_samples=0))
  with pytest.raises(UserError, match="eval_decode_batch=0 must be at least 1"):
    VAETask.check_config(config("vae_mnist", eval_decode_batch=0))
  with pytest.raises(UserError, match="train_iw_samples=0 must be 1"):
    VAETask.check_config(config("vae_mnist", train_iw_samples=0))
  with pytest.raises(UserError, match="set free_bits=0 or train_iw_samples=1"):
    VAETask.check_config(config("vae_mnist", train_iw_samples=4, free_bits=0.25))
  with pytest.raises(UserError, match="audio VAEs are open work"):
    VAETask.check_config(config("vae_mnist", modality="audio"))


@pytest.mark.slow
def test_vae_cli_train_sample_eval(shared_data, tmp_path, repo_root, capsys, monkeypatch):
  monkeypatch.chdir(repo_root)
  workdir = str(tmp_path / "vae")
  run = train_twice("configs/vae_mnist.py:smoke", workdir)
  grid = Image.open(os.path.join(workdir, "samples", "step_20.png"))
  assert grid.size == (2 * 30 + 2, 2 * 30 + 2)
  assert run("sample", "--workdir", workdir, "-n", "9") == 0
  assert Image.open(os.path.join(workdir, "samples", "sample_step_20.png")).size == (3 * 30 + 2, 3 * 30 + 2)
  assert run("sample", "--workdir", workdir, "--prompt", "x") == 2
  assert "--prompt does not apply to the vae task" in capsys.readouterr().err
  assert run("eval", "--workdir", workdir, "--config.eval_iw_samples=2", "--config.batch_size=1000",
             "--config.eval_images=3000") == 0  # the whole split is scored in the GAN and pixel-RNN tests
  out = capsys.readouterr().out
  assert "iw_samples 2" in out and "images 3000" in out
  assert float(out.split("nll_iw ")[1].split()[0]) <= float(out.split("neg_elbo ")[1].split()[0]) + 0.01
  last = out.strip().splitlines()[-1].split()
  metrics = dict(zip(last[::2], map(float, last[1::2])))
  assert metrics["quality_samples"] == 200 and metrics["fid"] > 0 and 1 <= metrics["inception_score"] <= 10
  assert metrics["real_fid_test_vs_train"] < metrics["fid"]  # real data sits closer to real data than samples
  assert sum(metrics[f"class_share_{c}"] for c in range(10)) == pytest.approx(1.0) and 0 < metrics["class_tv"] <= 1
  assert os.listdir(os.path.join(os.environ["GENJAX_CACHE_DIR"], "classifiers"))  # cached for next time
  recon = Image.open(os.path.join(workdir, "samples", "step_20_reconstructions.png"))
  assert recon.size == (16 * 30 + 2, 2 * 30 + 2)  # 16 test images over their 16 reconstructions
  assert Image.open(os.path.join(workdir, "samples", "step_20_interpolations.png")).size == (8 * 30 + 2, 8 * 30 + 2)


@pytest.mark.slow
def test_vae_on_tfds_color_images_with_a_discretized_likelihood(tmp_path, repo_root, monkeypatch):
  tfds = pytest.importorskip("tensorflow_datasets")
  monkeypatch.chdir(repo_root)
  progress = io.StringIO()
  with tfds.testing.mock_data(num_examples=32):
    code = cli.main(["train", "--config", "configs/vae_mnist.py:smoke", "--workdir", str(tmp_path / "c"),
                     "--config.data.source=tfds", "--config.data.tfds_name=cifar10",
                     "--config.data.shape=(32, 32, 3)", "--config.likelihood=gaussian", "--config.steps=10"],
                    stream=progress)
  assert code == 0, progress.getvalue()
  out = progress.getvalue()
  assert "FID/KID/IS skipped" in out
  nll = float(out.split("eval at step 10: ")[1].split("nll_iw ")[1].split()[0])
  assert 0 < nll < 2 * 32 * 32 * 3 * np.log(256)  # discrete: positive; mock pixels are uniform noise


@pytest.mark.slow
def test_vae_digits_smoke_with_logistic_likelihood(shared_data, tmp_path, repo_root, monkeypatch):
  monkeypatch.chdir(repo_root)
  progress = io.StringIO()
  assert cli.main(["train", "--config", "configs/vae_digits.py:smoke", "--workdir", str(tmp_path / "d")],
                  stream=progress) == 0
  grid = Image.open(os.path.join(tmp_path, "d", "samples", "step_20.png"))
  assert grid.size == (2 * 10 + 2, 2 * 10 + 2)
  assert "bits_per_dim" in progress.getvalue()
