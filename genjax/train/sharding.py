"""Mesh and shardings: parameter paths -> logical axes (the model's PARAM_AXES) -> mesh axes (config rules).

Two ways to split parameters, combinable: tensor parallel, where the rules send a logical axis ('hidden') to
'model'; and FSDP (`fsdp=True`), where each large parameter's largest axis that is still whole and divides
evenly is split over 'data' as well, so parameters and optimizer state cost 1/data of their bytes a device
and XLA gathers each one where the step uses it. FSDP needs no PARAM_AXES, so it works for every model.
"""

import math
import re

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding, PartitionSpec as P

from genjax.errors import UserError
from genjax.train import optim

AXES = ("data", "model")
FSDP_MIN_SIZE = 1024  # parameters of fewer elements stay replicated: gathering them costs more than they save


def make_mesh(shape, devices=None):
  """A ('data', 'model') mesh with Auto axes (jax 0.10 defaults to Explicit; GSPMD propagation is ours)."""
  devices = jax.devices() if devices is None else devices
  data, model = shape
  if model < 1 or len(devices) % model:
    raise UserError(f"mesh.shape={tuple(shape)}: {len(devices)} devices do not split into a 'model' axis of "
                    f"{model}; set --config.mesh.shape='(-1, k)' with k dividing {len(devices)}")
  data = len(devices) // model if data == -1 else data
  if data * model != len(devices):
    raise UserError(f"mesh.shape={tuple(shape)} needs {data * model} devices, this machine has "
                    f"{len(devices)}; use --config.mesh.shape='(-1, {model})'")
  return jax.make_mesh((data, model), AXES, axis_types=(AxisType.Auto,) * 2, devices=devices)


def check_batch(batch_size, mesh, grad_accum=1):
  """Every micro-batch splits evenly over the 'data' devices."""
  n = mesh.shape["data"] * grad_accum
  if batch_size % n:
    raise UserError(f"batch_size {batch_size} is not divisible by the 'data' mesh axis ({mesh.shape['data']} "
                    f"devices) times grad_accum={grad_accum}; set --config.batch_size to a multiple of {n}")


def path_str(path):
  return jax.tree_util.keystr(path, simple=True, separator="/")


def logical_axes(params, param_axes):
  """Each parameter's logical axis names, from the first (regex, axes) rule matching its path."""
  def lookup(path, leaf):
    name = path_str(path)
    for pattern, axes in param_axes:
      if re.search(pattern, name):
        if len(axes) != np.ndim(leaf):
          raise ValueError(f"rule {pattern!r} gives {axes} for {name} of shape {np.shape(leaf)}")
        return axes
    return (None,) * np.ndim(leaf)  # unnamed parameters are replicated
  return jax.tree_util.tree_map_with_path(lookup, params)


def to_mesh(axes, rules, mesh):
  """Logical axes -> NamedSharding; a mesh axis of size 1 costs nothing, so rules can name 'model' always."""
  table = dict(rules)

  def spec(names):
    return NamedSharding(mesh, P(*(table.get(n) if n else None for n in names)))
  return jax.tree.map(spec, axes, is_leaf=lambda x: isinstance(x, tuple))


def over_data(shape, sharding):
  """`sharding` with the parameter's largest unsplit axis divisible by the 'data' size split over 'data'."""
  n, spec = sharding.mesh.shape["data"], list(sharding.spec) + [None] * (len(shape) - len(sharding.spec))
  free = [i for i, axis in enumerate(spec) if axis is None and shape[i] % n == 0]
  if n == 1 or math.prod(shape) < FSDP_MIN_SIZE or not free:
    return sharding
  spec[max(free, key=lambda i: shape[i])] = "data"
  return NamedSharding(sharding.mesh, P(*spec))


def state_shardings(abstract_state, tx, param_axes, rules, mesh, fsdp=False):
  """Shardings of a train state {params, opt_state, ...}: optimizer moments follow their parameters."""
  params_sh = to_mesh(logical_axes(abstract_state["params"], param_axes), rules, mesh)
  if fsdp:
    params_sh = jax.tree.map(lambda x, sh: over_data(x.shape, sh), abstract_state["params"], params_sh)
  replicated = NamedSharding(mesh, P())
  out = jax.tree.map(lambda _: replicated, abstract_state)
  out["params"] = params_sh
  out["opt_state"] = optim.map_params(
      tx, lambda _, sh: sh, abstract_state["opt_state"], params_sh,
      transform_non_params=lambda _: replicated, is_leaf=lambda x: isinstance(x, NamedSharding))
  return out
