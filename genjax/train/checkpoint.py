"""Orbax checkpoints at workdir/checkpoints: train state + data iterator + JSON metadata, async, keep-N.

A step directory counts only once Orbax has committed it (it writes to a temporary name and renames), so
a run killed mid-save resumes from the previous complete step.
"""

import os

import grain
import jax
import orbax.checkpoint as ocp


class Checkpoints:

  def __init__(self, workdir, keep=3, create=True):
    self.directory = os.path.join(os.path.abspath(workdir), "checkpoints")  # Orbax needs absolute paths
    self.manager = ocp.CheckpointManager(
        self.directory,
        item_handlers={"state": ocp.StandardCheckpointHandler(), "data": grain.checkpoint.CheckpointHandler(),
                       "meta": ocp.JsonCheckpointHandler()},
        options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=create, enable_async_checkpointing=True))

  def latest_step(self):
    return self.manager.latest_step()

  def save(self, step, state, data_iter, meta):
    self.manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), data=grain.checkpoint.CheckpointSave(data_iter),
        meta=ocp.args.JsonSave(meta)))

  def meta(self, step=None):
    step = self.latest_step() if step is None else step
    return self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]

  def restore(self, abstract_state, step=None, data_iter=None):
    """The state laid out as `abstract_state` says (its shardings may be a new mesh); the iterator in place."""
    step = self.latest_step() if step is None else step
    items = {"state": ocp.args.StandardRestore(abstract_state)}
    if data_iter is not None:
      items["data"] = grain.checkpoint.CheckpointRestore(data_iter)
    return self.manager.restore(step, args=ocp.args.Composite(**items))["state"]

  def wait(self):
    self.manager.wait_until_finished()

  def close(self):
    self.manager.close()


def abstract(state_shapes, shardings):
  return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), state_shapes, shardings)
