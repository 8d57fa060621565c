"""A gs:// workdir, against a local Cloud Storage emulator (no network): train, resume, sample, and the errors
a researcher meets first (no client library, no credentials, no bucket, another object store)."""

import io
import os
import socket
import sys

import pytest

pytest.importorskip("gcp_storage_emulator", reason="the test extra installs the storage emulator")

from etils import epath  # noqa: E402

from genjax import main as cli  # noqa: E402
from genjax.errors import UserError  # noqa: E402
from genjax.train import workdir as workdirs  # noqa: E402
from tests.train.emulator import storage  # noqa: E402

SMOKE = "configs/char_rnn_pydoc.py:smoke"
BUCKET = "genjax-test"


@pytest.fixture(scope="module")
def emulator():
  with storage(BUCKET) as root:
    yield root


@pytest.fixture(autouse=True)
def at_repo_root(repo_root, monkeypatch):
  monkeypatch.chdir(repo_root)


def genjax(*argv, stream=None):
  return cli.main(list(argv), stream=stream or io.StringIO())


def train_on_emulator(*argv, stream=None):
  """`genjax train`, rerun once if it stopped: the emulator ignores GCS's write preconditions, and about one
  run in ten TensorStore then rejects its reply ("Malformed StorageGeneration") while committing a
  checkpoint. Rerunning is what the error tells a user to do, and the rerun resumes from the last committed
  step, so the assertions below still hold it to a complete, resumable run."""
  if genjax("train", *argv, stream=stream) != 0:
    assert genjax("train", *argv, stream=stream) == 0


def names(url):
  """Every object under a gs:// prefix, relative to it."""
  import gcsfs
  root = url[len("gs://"):]
  return sorted(p[len(root) + 1:] for p in gcsfs.GCSFileSystem().find(root))


def test_train_resume_and_sample_in_a_bucket(emulator, capsys):
  run = f"{emulator}/runs/rnn"
  train = ("--config", SMOKE, "--workdir", run)
  train_on_emulator(*train, "--config.steps=10")
  stray = epath.Path(run) / "checkpoints" / "15" / "state" / "half_written"  # a save killed mid-write: no
  stray.write_text("x")  # commit_success.txt, so never a checkpoint; the next start removes it
  progress = io.StringIO()
  train_on_emulator(*train, "--config.steps=20", stream=progress)
  assert "resuming at step 10" in progress.getvalue()
  objects = names(run)
  assert {n.split("/")[1] for n in objects if n.startswith("checkpoints/")} == {"10", "20"}
  assert all(f"checkpoints/{s}/commit_success.txt" in objects for s in (10, 20))
  assert "samples/step_20.txt" in objects and any(n.startswith("tb/events.out.tfevents") for n in objects)
  assert ".lock" not in objects  # the holder's note goes when the run ends
  steps = [line for line in (epath.Path(run) / "metrics.jsonl").read_text().splitlines() if "train/loss" in line]
  assert len(steps) >= 2 and '"step": 20' in steps[-1]  # the resumed run appended to the first run's rows
  assert genjax("sample", "--workdir", run, "-n", "2", "--length", "20") == 0
  assert capsys.readouterr().out.count("=====") == 1
  assert "samples/sample_step_20.txt" in names(run)
  assert not os.path.exists("gs:")  # nothing went to a local folder named after the URL


def expect_user_error(capsys, workdir, match):
  assert genjax("train", "--config", SMOKE, "--workdir", workdir) == cli.EXIT_USER_ERROR
  err = capsys.readouterr().err.strip()
  assert err.startswith("genjax: error:") and "\n" not in err and match in err, err


def test_bad_bucket_workdirs_name_the_fix(emulator, capsys, monkeypatch):
  expect_user_error(capsys, "s3://bucket/run", match="gs://BUCKET/PATH")
  expect_user_error(capsys, "gs://no-such-bucket/run", match="gcloud storage buckets create gs://no-such-bucket")
  with monkeypatch.context() as mp:
    mp.setitem(sys.modules, "gcsfs", None)  # as if the gcs extra were not installed
    expect_user_error(capsys, f"{emulator}/run", match="pip install -c constraints.txt -e '.[gcs]'")
  assert not any(n.startswith("run/") for n in names(emulator))  # a refused run wrote nothing
  monkeypatch.delenv("STORAGE_EMULATOR_HOST")  # from here on a real bucket would be asked: check only, no I/O
  monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json")
  expect_user_error(capsys, f"{emulator}/run", match="gcloud auth application-default login")


def test_one_run_per_bucket_workdir(emulator, capsys, monkeypatch):
  """A second run on this machine is refused; a note from a run elsewhere is reported, then replaced."""
  run = f"{emulator}/runs/locked"
  note = epath.Path(run) / ".lock"
  note.write_text("pid 7 on another-host")
  with workdirs.lock(run):
    assert "pid 7 on another-host holds this workdir" in capsys.readouterr().err
    assert note.read_text() == f"pid {os.getpid()} on {socket.gethostname()}"
    with pytest.raises(UserError, match="is in use by a running genjax"), workdirs.lock(run):
      pass
  assert not note.exists()
