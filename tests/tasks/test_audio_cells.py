"""The audio cells: the autoregressive family over mu-law codes and the GAN family (WaveGAN) on FSDD."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import soundfile

from genjax.modalities.audio import Audio
from genjax.tasks.autoregressive import AutoregressiveTask
from tests.tasks.smoke_cli import config, train_twice

META = {"rate": 8000, "length": 65}


def test_the_mask_keeps_padding_out_of_the_nll():
  task = AutoregressiveTask(config("sample_rnn_fsdd"), META)
  params = task.init(jax.random.PRNGKey(0))["params"]
  rng = np.random.default_rng(0)
  clips = rng.uniform(-0.5, 0.5, (2, 65)).astype(np.float32)
  mask = np.ones((2, 65), np.float32)
  mask[1, 40:] = 0  # the second clip ends at sample 40: the rest is padding
  other = clips.copy()
  other[1, 40:] = rng.uniform(-1, 1, 25)  # whatever the padding holds
  score = jax.jit(task.eval_step)
  batch = lambda a: {"audio": jnp.asarray(a), "mask": jnp.asarray(mask), "weight": jnp.ones(2)}  # noqa: E731
  state = {"params": params}
  a, b = score(state, batch(clips)), score(state, batch(other))
  np.testing.assert_allclose(a["nll"], b["nll"], rtol=1e-6)
  assert float(a["units"]) == 64 + 39  # targets 1..64 of the first clip, 1..39 of the second
  changed = clips.copy()
  changed[1, 30] = -clips[1, 30]  # a real sample does count
  assert not np.allclose(score(state, batch(changed))["nll"], a["nll"])
  loss = task.summarize(jax.device_get(a))
  assert loss["bits_per_sample"] == pytest.approx(loss["loss"] / np.log(2)) and loss["clips"] == 2
  assert 7.5 < loss["bits_per_sample"] < 8.5  # an untrained model is near uniform over 256 codes


def test_classifier_scores_real_clips_near_the_ceiling_and_noise_far_below(shared_data):
  c = config("wavegan_fsdd")  # the smoke classifier (100 steps), which the CLI tests below reuse from the cache
  data = Audio.load_data(c)
  modality = Audio(c, {"rate": 8000, "length": c.data.length})
  real = data.test.arrays["audio"]
  noise = lambda rng, n: np.asarray(jax.random.uniform(rng, (n, 8192), minval=-0.3, maxval=0.3))  # noqa: E731
  from_test = lambda rng, n: real[np.random.default_rng(int(rng[1])).integers(0, len(real), n)]  # noqa: E731
  real_scores, noise_scores = modality.quality(from_test, data, 300), modality.quality(noise, data, 300)
  assert real_scores["classifier_test_accuracy"] > 0.8
  assert real_scores["inception_score"] > 0.8 * real_scores["real_inception_score"]
  assert noise_scores["inception_score"] < 0.5 * real_scores["inception_score"]
  assert noise_scores["fid"] > 10 * real_scores["fid"]


@pytest.mark.slow
def test_sample_rnn_cli_train_resume_sample_eval(shared_data, tmp_path, repo_root, capsys, monkeypatch):
  monkeypatch.chdir(repo_root)
  workdir = str(tmp_path / "srnn")
  run = train_twice("configs/sample_rnn_fsdd.py:smoke", workdir)
  assert run("sample", "--workdir", workdir, "-n", "3", "--length", "100") == 0
  folder = os.path.join(workdir, "samples", "sample_step_20")
  assert sorted(os.listdir(folder)) == ["0000.wav", "0001.wav", "0002.wav"]
  clip, rate = soundfile.read(os.path.join(folder, "0001.wav"))
  assert rate == 8000 and clip.shape == (100,) and np.abs(clip).max() <= 1.0
  assert os.path.isfile(folder + "_spectrogram.png")
  assert run("sample", "--workdir", workdir, "--prompt", "x") == 2
  assert "--prompt does not apply" in capsys.readouterr().err
  assert run("eval", "--workdir", workdir, "--config.batch_size=64") == 0
  last = capsys.readouterr().out.strip().splitlines()[-1].split()
  metrics = dict(zip(last[::2], map(float, last[1::2])))
  assert metrics["clips"] == 300 and metrics["bits_per_sample"] < 8.0  # 20 steps already beat uniform codes
  assert metrics["quality_samples"] == 200 and metrics["inception_score"] >= 1.0


@pytest.mark.slow
def test_wavegan_cli_train_resume_sample_eval(shared_data, tmp_path, repo_root, capsys, monkeypatch):
  monkeypatch.chdir(repo_root)
  workdir = str(tmp_path / "wavegan")
  run = train_twice("configs/wavegan_fsdd.py:smoke", workdir)
  assert sorted(os.listdir(os.path.join(workdir, "samples", "step_20"))) == ["0000.wav", "0001.wav"]
  assert run("sample", "--workdir", workdir, "-n", "4") == 0
  clip, rate = soundfile.read(os.path.join(workdir, "samples", "sample_step_20", "0003.wav"))
  assert rate == 8000 and clip.shape == (1024,)
  assert run("eval", "--workdir", workdir) == 0
  last = capsys.readouterr().out.strip().splitlines()[-1].split()
  metrics = dict(zip(last[::2], map(float, last[1::2])))
  assert metrics["clips"] == 300 and metrics["fid"] > metrics["real_fid_test_vs_train"]
