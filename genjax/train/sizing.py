"""What a run will cost before it is launched: parameters, bytes per device, FLOPs and memory of one step.

`genjax info --config FILE.py:VARIANT [--mesh '(a, b)']` prints `size(config)`. Nothing trains: the train
state exists only as shapes, and the jitted training and evaluation steps the trainer runs are lowered and
compiled for this machine's devices under the config's mesh and rules, so the figures are XLA's for exactly
those programs.
"""

import math

import jax
import numpy as np

from genjax import config as genjax_config
from genjax import tasks
from genjax.data import pipeline
from genjax.errors import UserError
from genjax.train import sharding

FAKE_DEVICES = "XLA_FLAGS=--xla_force_host_platform_device_count"


def size(config):
  """A dict of figures (per device unless named total) for `config`'s training and evaluation steps."""
  from genjax.train import trainer
  task_cls = tasks.get(config.task)
  genjax_config.check(config)
  task_cls.check_config(config)
  mesh = mesh_for(config.mesh.shape)
  sharding.check_batch(config.batch_size, mesh, config.get("grad_accum", 1))
  data = task_cls.load_data(config)
  run = trainer.Run(config, None, data.meta, None)
  state = jax.tree.map(lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh), run.shapes, run.state_sh)
  train_batch = pipeline.Stream(data.train, data.transform, config.batch_size, config.seed)(0)
  eval_batch = next(pipeline.eval_batches(data.eval, data.eval_transform, config.batch_size))
  train = run.train_step.lower(state, abstract_batch(train_batch, config.batch_size, run.batch_sh)).compile()
  evaluate = run.eval_step.lower(state, abstract_batch(eval_batch, config.batch_size, run.batch_sh)).compile()
  return {
      "config": config.name, "mesh": dict(run.mesh.shape), "devices": run.mesh.size,
      "batch_size": config.batch_size, "batch_per_device": config.batch_size // run.mesh.shape["data"],
      "parameters": sum(math.prod(x.shape) for x in jax.tree.leaves(run.shapes["params"])),
      "parameter_bytes_per_device": device_bytes(state["params"]),
      "optimizer_bytes_per_device": device_bytes(state["opt_state"]),
      **program_figures("step", train, run.mesh.size), **program_figures("eval_step", evaluate, run.mesh.size),
      "backend": jax.default_backend(),
  }


def program_figures(name, compiled, devices):
  """XLA's FLOPs and memory for one compiled program, per device: the evaluation (an IWAE bound decodes k
  samples per example) can need more than the training step it sits beside."""
  cost, memory = compiled.cost_analysis(), compiled.memory_analysis()
  flops = float(cost.get("flops", 0.0)) if cost else 0.0
  return {f"{name}_flops_per_device": flops, f"{name}_flops_total": flops * devices,
          f"{name}_argument_bytes": memory.argument_size_in_bytes, f"{name}_output_bytes": memory.output_size_in_bytes,
          f"{name}_temp_bytes": memory.temp_size_in_bytes,
          f"{name}_peak_bytes_estimate": (memory.argument_size_in_bytes + memory.output_size_in_bytes
                                          - memory.alias_size_in_bytes + memory.temp_size_in_bytes)}


def mesh_for(shape):
  """The config's mesh on this machine, or a UserError saying how to size a larger one from here."""
  devices = jax.device_count()
  data, model = shape
  wanted = data * model if data != -1 else None
  if wanted is not None and wanted != devices:
    raise UserError(f"mesh {tuple(shape)} needs {wanted} devices and this machine has {devices}; to size it "
                    f"here, run with {FAKE_DEVICES}={wanted} (CPU devices stand in for the accelerators)")
  return sharding.make_mesh(shape)


def abstract_batch(first, global_batch, batch_sh):
  """A pipeline batch as shapes, its leading axis the global batch."""
  return {k: jax.ShapeDtypeStruct((global_batch, *np.shape(v)[1:]), np.asarray(v).dtype, sharding=batch_sh)
          for k, v in first.items()}


def device_bytes(tree):
  """Bytes one device holds of `tree` (abstract arrays with shardings): each leaf's shard, summed."""
  return sum(math.prod(x.sharding.shard_shape(x.shape)) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree))
