"""`genjax info --config`: a run sized from its config alone, under any mesh of this machine's devices."""

import io
import math

import jax
import pytest

from genjax import main as cli
from genjax.errors import UserError
from genjax.main import load_config
from genjax.train import sizing, trainer

SMOKE = "configs/char_rnn_pydoc.py:smoke"


@pytest.fixture(autouse=True)
def at_repo_root(repo_root, monkeypatch):
  monkeypatch.chdir(repo_root)


def test_sizes_follow_the_parameters_and_the_batch():
  small, large = (sizing.size(load_config(SMOKE, [f"--config.batch_size={b}"])) for b in (16, 64))
  config = load_config(SMOKE, [])
  data = trainer.tasks.get(config.task).load_data(config)
  params = trainer.Run(config, None, data.meta, None).task.init(jax.random.key(0))["params"]
  assert small["parameters"] == sum(math.prod(x.shape) for x in jax.tree.leaves(params))
  assert small["mesh"] == {"data": 8, "model": 1} and small["batch_per_device"] == 2
  assert small["parameter_bytes_per_device"] == 4 * small["parameters"]  # float32, replicated over 'data'
  assert small["optimizer_bytes_per_device"] >= 2 * small["parameter_bytes_per_device"]  # Adam's two moments
  # Four times the examples a device: the forward and backward FLOPs grow about 4x (the update's do not).
  assert 3.0 < large["step_flops_per_device"] / small["step_flops_per_device"] <= 4.0
  assert large["step_temp_bytes"] > small["step_temp_bytes"] > 0
  assert large["step_flops_total"] == 8 * large["step_flops_per_device"]


def test_info_prints_the_size_under_another_mesh(capsys):
  assert cli.main(["info", "--config", SMOKE, "--mesh", "(2, 4)"], stream=io.StringIO()) == 0
  shown = dict(line.split(": ", 1) for line in capsys.readouterr().out.strip().splitlines())
  assert shown["mesh"] == "{'data': 2, 'model': 4}" and shown["batch_per_device"] == "8"
  replicated = 4 * int(shown["parameters"].replace(",", ""))
  assert int(shown["parameter_bytes_per_device"].replace(",", "")) < replicated  # 'hidden' split over 'model'


def test_a_mesh_of_more_devices_names_the_flag_that_fakes_them():
  with pytest.raises(UserError, match=r"needs 16 devices.*has 8.*xla_force_host_platform_device_count=16"):
    sizing.size(load_config(SMOKE, ["--config.mesh.shape=(4, 4)"]))


def test_a_gan_splits_its_own_latents_over_data():
  """Its fakes come from latents the step draws itself: unsplit, every device generated the whole batch."""
  over_data, one_each = (sizing.size(load_config("configs/gan_mnist.py:smoke", [f"--config.mesh.shape={m}"]))
                         for m in ("(8, 1)", "(1, 8)"))  # (1, 8): the whole batch on every device
  assert over_data["step_flops_per_device"] < 0.2 * one_each["step_flops_per_device"]  # 1/8 and the update


def test_a_vae_splits_its_importance_samples_over_data():
  """The IWAE bound decodes k samples per example, [k, B] flattened: k-major, GSPMD gathered the whole batch
  onto every device (vae_mnist:cpu on 4 fake devices once held 20 GB)."""
  over_data, one_each = (sizing.size(load_config("configs/vae_mnist.py:smoke", [f"--config.mesh.shape={m}"]))
                         for m in ("(8, 1)", "(1, 8)"))
  assert over_data["eval_step_flops_per_device"] < 0.2 * one_each["eval_step_flops_per_device"]
  assert over_data["eval_step_temp_bytes"] < 0.5 * one_each["eval_step_temp_bytes"]
