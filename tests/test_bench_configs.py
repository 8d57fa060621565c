"""The benchmark models' configs (configs/bench/*.py) stay valid recipes of their tasks, as benchmarks/suite.py
loads them; `:cond` is the class-conditional variant of the two image models that have one."""

import pathlib

import pytest

from genjax import tasks
from genjax.errors import UserError
from genjax.main import load_config

BENCH = sorted(p.stem for p in (pathlib.Path(__file__).parents[1] / "configs" / "bench").glob("*.py"))


@pytest.mark.parametrize("spec", BENCH + ["dcgan:cond", "conv_vae:cond"])
def test_bench_config_passes_its_task_checks(spec, repo_root, monkeypatch):
  monkeypatch.chdir(repo_root)
  name, _, variant = spec.partition(":")
  config = load_config(f"configs/bench/{name}.py" + (f":{variant}" if variant else ""), [])
  tasks.get(config.task).check_config(config)
  assert config.model.get("classes", 0) == (10 if variant else 0)


def test_unknown_bench_variant_is_refused(repo_root, monkeypatch):
  monkeypatch.chdir(repo_root)
  with pytest.raises(UserError, match=":cond"):
    load_config("configs/bench/dcgan.py:cpu", [])
