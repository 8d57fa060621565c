"""End to end through the CLI entry point: train -> sample -> eval, resume, and every bad input we handle."""

import hashlib
import io
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from genjax import main as cli
from genjax.errors import UserError
from genjax.main import load_config
from genjax.train import trainer
from tests.train import procs

SMOKE = "configs/char_rnn_pydoc.py:smoke"


@pytest.fixture(autouse=True)
def at_repo_root(repo_root, monkeypatch):
  monkeypatch.chdir(repo_root)


def genjax(*argv):
  return cli.main(list(argv), stream=io.StringIO())


def tree_digest(directory):
  """Bytes of every file under a folder: proves that a failed command touched nothing."""
  h = hashlib.sha256()
  for p in sorted(pathlib.Path(directory).rglob("*")):
    if p.is_file():
      h.update(str(p.relative_to(directory)).encode() + p.read_bytes())
  return h.hexdigest()


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, repo_root):
  os.chdir(repo_root)
  workdir = str(tmp_path_factory.mktemp("smoke") / "run")
  assert genjax("train", "--config", SMOKE, "--workdir", workdir) == 0
  return workdir


def test_train_writes_checkpoints_samples_and_metrics(smoke_run):
  assert sorted(os.listdir(os.path.join(smoke_run, "checkpoints"))) == ["10", "20"]
  samples = pathlib.Path(smoke_run, "samples", "step_20.txt").read_text()
  assert samples.count("=====") == 3  # four samples
  rows = pathlib.Path(smoke_run, "metrics.jsonl").read_text().splitlines()
  assert any('"eval/bits_per_char"' in r for r in rows) and any('"train/loss"' in r for r in rows)
  assert os.listdir(os.path.join(smoke_run, "tb"))


def test_sample_and_eval_from_the_workdir(smoke_run, capsys):
  assert genjax("sample", "--workdir", smoke_run, "-n", "2", "--length", "30", "--prompt", "The ") == 0
  text = capsys.readouterr().out
  assert text.count("=====") == 1 and len(text.split("=====")[0].strip()) > 10
  assert genjax("eval", "--workdir", smoke_run) == 0
  out = capsys.readouterr().out
  loss = float(out.split("loss ")[1].split()[0])
  assert 0 < loss < np.log(110) + 0.1  # at most a little above uniform over the vocabulary
  assert os.path.exists(os.path.join(smoke_run, "eval_step_20.json"))
  assert genjax("info", "--workdir", smoke_run) == 0
  shown = dict(line.split(": ", 1) for line in capsys.readouterr().out.strip().splitlines())
  assert shown == {k: str(v) for k, v in trainer.info(smoke_run).items()} and shown["step"] == "20"
  assert len(shown["digest"]) == 64  # SHA-256 hex


def test_resume_gives_the_same_parameters_as_one_run(tmp_path):
  config = load_config(SMOKE, ["--config.steps=8", "--config.ckpt_every=100", "--config.eval_every=100",
                               "--config.sample_every=100", "--config.model.dropout=0.1"])
  whole = trainer.train(config, str(tmp_path / "whole"), stream=io.StringIO())
  trainer.train(config, str(tmp_path / "split"), stream=io.StringIO(), stop_after=4)
  assert os.listdir(tmp_path / "split" / "checkpoints") == ["4"]
  resumed = trainer.train(config, str(tmp_path / "split"), stream=io.StringIO())
  assert int(resumed["step"]) == 8
  for a, b in zip(jax.tree.leaves(jax.device_get(whole)), jax.tree.leaves(jax.device_get(resumed))):
    np.testing.assert_array_equal(a, b)


def expect_user_error(capsys, *argv, match):
  assert genjax(*argv) == cli.EXIT_USER_ERROR
  err = capsys.readouterr().err.strip()
  assert err.startswith("genjax: error:") and "\n" not in err and match in err, err


def test_bad_inputs_fail_cleanly_and_touch_nothing(smoke_run, tmp_path, capsys):
  before = tree_digest(smoke_run)
  train = ("train", "--config", SMOKE, "--workdir")
  expect_user_error(capsys, *train, smoke_run, "--config.model.hidden=64", match="differs in ['model']")
  expect_user_error(capsys, *train, smoke_run, "--config.optim.lrr=1", match='Did you mean "lr"')
  expect_user_error(capsys, *train, str(tmp_path / "a"), "--config.batch_size=12", match="multiple of 8")
  expect_user_error(capsys, *train, str(tmp_path / "b"), "--config.steps=0", match="steps=0")
  expect_user_error(capsys, *train, str(tmp_path / "c"), "--config.model.cell=tcn", match="model.cell")
  expect_user_error(capsys, "sample", "--workdir", smoke_run, "--prompt", "日本", match="never saw")
  expect_user_error(capsys, "sample", "--workdir", smoke_run, "--temperature", "-1", match="temperature")
  expect_user_error(capsys, "sample", "--workdir", smoke_run, "--separate", match="text samples go in one .txt")
  expect_user_error(capsys, "sample", "--workdir", str(tmp_path / "nothing"), match="train first")
  assert tree_digest(smoke_run) == before
  assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_bad_data_paths_and_files(tmp_path, capsys):
  train = ("train", "--config", "configs/char_rnn_shakespeare.py:smoke", "--workdir", str(tmp_path / "w"))
  expect_user_error(capsys, *train, "--config.data.path=/no/such/file.txt", match="not found")
  (tmp_path / "empty.txt").write_text("")
  expect_user_error(capsys, *train, f"--config.data.path={tmp_path / 'empty.txt'}", match="empty")
  (tmp_path / "locked.txt").write_text("text")
  (tmp_path / "locked.txt").chmod(0)
  if not os.access(tmp_path / "locked.txt", os.R_OK):  # root reads anything
    expect_user_error(capsys, *train, f"--config.data.path={tmp_path / 'locked.txt'}", match="cannot read")
  (tmp_path / "afile").write_text("x")
  expect_user_error(capsys, "train", "--config", SMOKE, "--workdir", str(tmp_path / "afile"), match="is a file")
  expect_user_error(capsys, "train", "--config", "configs/nope.py", "--workdir", str(tmp_path / "w"),
                    match="not found")


def test_console_script_exits_non_zero_with_one_line(tmp_path, repo_root):
  env = dict(os.environ, JAX_NUM_CPU_DEVICES="1")
  proc = subprocess.run([sys.executable, "-m", "genjax.main", "train", "--config", SMOKE, "--workdir",
                         str(tmp_path / "w"), "--config.data.seq_len=1"], capture_output=True, text=True,
                        cwd=repo_root, env=env, timeout=120)
  assert proc.returncode == 2
  assert proc.stderr.strip() == "genjax: error: config: data.seq_len=1 must be at least 2"


def test_a_run_from_8_devices_samples_on_1(smoke_run, repo_root):
  env = dict(os.environ, JAX_NUM_CPU_DEVICES="1")
  proc = subprocess.run([sys.executable, "-m", "genjax.main", "sample", "--workdir", smoke_run, "-n", "3",
                         "--length", "20"], capture_output=True, text=True, cwd=repo_root, env=env, timeout=180)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.count("=====") == 2


RESUME_IN_CHILD = ("import sys; from genjax.main import load_config; from genjax.train import trainer; "
                   "trainer.train(load_config(sys.argv[1], sys.argv[3:]), sys.argv[2], stop_after=4)")


def test_a_run_from_8_devices_resumes_training_on_4_then_1(tmp_path, repo_root):
  """Parameters, optimizer state, step and data position carry over to any device count: 4 steps on 8 devices,
  4 on 4, 4 on 1 end where 12 uninterrupted steps on 8 do (up to float reassociation across devices)."""
  overrides = ["--config.steps=12", "--config.ckpt_every=100", "--config.eval_every=100",
               "--config.sample_every=100"]
  config = load_config(SMOKE, overrides)
  whole = trainer.train(config, str(tmp_path / "whole"), stream=io.StringIO())
  split = str(tmp_path / "split")
  trainer.train(config, split, stream=io.StringIO(), stop_after=4)
  for devices, step in (("4", 8), ("1", 12)):
    env = dict(procs.env(repo_root), JAX_NUM_CPU_DEVICES=devices)
    child = subprocess.run([sys.executable, "-c", RESUME_IN_CHILD, SMOKE, split, *overrides], cwd=repo_root,
                           env=env, capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    out = child.stdout
    assert f"resuming at step {step - 4}" in out and f"mesh {{'data': {devices}, 'model': 1}}" in out, out
    assert str(step) in os.listdir(os.path.join(split, "checkpoints"))
  _, resumed, step = trainer.open_run(split)
  assert step == 12
  for a, b in zip(jax.tree.leaves(jax.device_get(whole)), jax.tree.leaves(jax.device_get(resumed))):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6)


def test_runs_saved_before_a_new_config_key_still_open():
  """A run trained before genjax added a key (model.phase_shuffle, eval_quality_periodic) gets the default,
  and one saved when each cell was its own task ('image_gan', 'char_rnn') reads as (family, modality)."""
  import json

  from genjax import config as genjax_config
  from tests.tasks.smoke_cli import config
  old = json.loads(config("gan_mnist", "cpu").to_json_best_effort())
  del old["model"]["phase_shuffle"], old["model"]["arch"], old["eval_quality_periodic"], old["modality"]
  old["task"], old["model"]["z"] = "image_gan", 64  # what the run did set is kept
  filled = genjax_config.saved(json.dumps(old))
  assert (filled["task"], filled["modality"], filled["model"]["arch"]) == ("gan", "image", "dcgan")
  assert filled["eval_quality_periodic"] == 2000 and filled["model"]["phase_shuffle"] == 0
  assert filled["model"]["z"] == 64
  old_rnn = json.loads(config("char_rnn_pydoc").to_json_best_effort())
  del old_rnn["modality"], old_rnn["model"]["arch"]
  filled = genjax_config.saved(json.dumps(dict(old_rnn, task="char_rnn")))
  assert (filled["task"], filled["modality"], filled["model"]["arch"]) == ("autoregressive", "text", "char_rnn")
  assert genjax_config.saved(json.dumps({"task": "elsewhere", "x": 1})) == {"task": "elsewhere", "x": 1}


def test_a_config_file_that_raises_is_one_line_naming_file_and_line(tmp_path, capsys):
  bad = tmp_path / "mine.py"
  bad.write_text("from genjax import config as common\n\n\ndef get_config(arg=None):\n  return comon.lock(None)\n")
  args = ("train", "--config", str(bad), "--workdir", str(tmp_path / "w"))
  expect_user_error(capsys, *args, match="mine.py line 5: NameError: name 'comon' is not defined")
  (tmp_path / "broken.py").write_text("def get_config(arg=None)\n  return 1\n")
  expect_user_error(capsys, "train", "--config", str(tmp_path / "broken.py"), "--workdir", str(tmp_path / "w"),
                    match="broken.py line 1: SyntaxError")
  with pytest.raises(UserError) as raised:  # --debug shows the traceback, the config's own error under it
    genjax("--debug", *args)
  assert isinstance(raised.value.__cause__, NameError)
  assert not (tmp_path / "w").exists()


def test_a_run_trains_from_prepared_shards_and_refuses_other_prepared_data(tmp_path, shared_data, capsys):
  from genjax.train import checkpoint
  config, data, workdir = "configs/vae_digits.py:smoke", str(tmp_path / "digits"), str(tmp_path / "run")
  assert genjax("prepare", "--config", config, "--out", data, "--shards", "2") == 0
  assert sorted(os.listdir(data))[-2:] == ["train-00000-of-00002.array_record", "train-00001-of-00002.array_record"]
  progress = io.StringIO()
  assert cli.main(["train", "--config", config, "--workdir", workdir, f"--config.data.prepared={data}"], progress) == 0
  assert "sample quality skipped: it compares samples with the in-memory test split" in progress.getvalue()
  ckpts = checkpoint.Checkpoints(workdir, create=False)
  _, meta = ckpts.newest_meta()
  ckpts.close()
  assert meta["data"]["prepared"]["manifest_sha256"] == hashlib.sha256(pathlib.Path(data, "manifest.json").read_bytes()).hexdigest()
  for shard in pathlib.Path(data).iterdir():
    shard.unlink()
  assert genjax("prepare", "--config", config, "--out", data, "--shards", "1") == 0  # the same data, re-cut
  capsys.readouterr()
  before = tree_digest(workdir)
  assert genjax("train", "--config", config, "--workdir", workdir, f"--config.data.prepared={data}",
                "--config.steps=30") == 2
  assert "this run trained on prepared data with manifest SHA-256" in capsys.readouterr().err
  assert tree_digest(workdir) == before
