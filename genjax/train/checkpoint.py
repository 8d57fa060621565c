"""Orbax checkpoints at workdir/checkpoints: train state + data iterator + JSON metadata, async, keep-N.

Safety rules, each tested:
- A step directory counts only once Orbax has committed it (on a disk it writes under a temporary name and
  renames; in a gs:// bucket it writes in place and adds commit_success.txt last); leftovers of a killed save
  are removed at start.
- Orbax removes an old step only after the newer one is committed, so a failed save never costs a good one.
- On restore, a step that cannot be read, or whose state no longer matches the SHA-256 digest recorded when it
  was saved, is moved to workdir/checkpoints_corrupt/ with a warning, and the next older one is tried.
"""

import hashlib
import os
import sys

import grain
import jax
import numpy as np
import orbax.checkpoint as ocp
from etils import epath
from jax.experimental import multihost_utils

from genjax import files
from genjax.errors import UserError


class Checkpoints:

  def __init__(self, workdir, keep=3, create=True):
    self.workdir = workdir if files.is_url(workdir) else os.path.abspath(workdir)  # Orbax needs absolute paths
    self.directory = os.path.join(self.workdir, "checkpoints")
    if create:
      self._remove_unfinished_saves()
    self.manager = ocp.CheckpointManager(
        self.directory,
        item_handlers={"state": ocp.StandardCheckpointHandler(), "data": grain.checkpoint.CheckpointHandler(),
                       "meta": ocp.JsonCheckpointHandler()},
        options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=create, enable_async_checkpointing=True))

  def _remove_unfinished_saves(self):
    """Leftovers of a save that a kill interrupted: never committed, so never a checkpoint. (Done here, in the
    foreground: Orbax's own cleanup runs in a thread that a quickly exiting process cuts short.)"""
    directory = epath.Path(self.directory)
    if jax.process_index() == 0 and directory.is_dir():
      for path in directory.iterdir():
        if path.is_dir() and ocp.path.step.is_path_temporary(path):
          path.rmtree()
    multihost_utils.sync_global_devices("genjax checkpoint cleanup")

  def steps(self):
    """Committed steps, newest first."""
    return sorted(self.manager.all_steps(), reverse=True)

  def save(self, step, state, data_iter, meta):
    meta = dict(meta, digest=digest(state) if jax.process_count() == 1 else None)
    try:
      self.manager.save(step, args=ocp.args.Composite(
          state=ocp.args.StandardSave(state), data=grain.checkpoint.CheckpointSave(data_iter),
          meta=ocp.args.JsonSave(meta)), force=True)
    except Exception as e:  # an earlier async save's failure surfaces here too
      raise self._write_error(step, e) from None

  def wait(self):
    try:
      self.manager.wait_until_finished()
    except Exception as e:
      raise self._write_error("in flight", e) from None

  def _write_error(self, step, error):
    good = [s for s in self.steps() if self._step_dir(s).is_dir()]
    return UserError(f"writing the checkpoint (step {step}) to {self.directory} failed: {_reason(error)}; free "
                     f"disk space or fix the folder's permissions, then rerun to resume from step "
                     f"{good[0] if good else 'none'} (earlier checkpoints are untouched)")

  def meta(self, step):
    return self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]

  def newest_meta(self):
    """(step, meta) of the newest checkpoint whose metadata reads, or (None, None) for a fresh workdir."""
    for step in self.steps():
      try:
        return step, self.meta(step)
      except Exception as e:  # noqa: BLE001  any unreadable step is set aside, whatever the error
        self.quarantine(step, e)
    return None, None

  def restore(self, abstract_state, data_iter=None):
    """(state, step) from the newest valid checkpoint, laid out as `abstract_state` says.

    Its shardings may describe another mesh than the one that saved it. The data iterator, if given, is set
    to the position saved with that state.
    """
    for _ in range(3):  # a run still training here may remove old steps (keep-N) while we read: look again
      self.manager.reload()
      for s in self.steps():
        items = {"state": ocp.args.StandardRestore(abstract_state), "meta": ocp.args.JsonRestore()}
        if data_iter is not None:
          items["data"] = grain.checkpoint.CheckpointRestore(data_iter)
        try:
          self._check_layout(s, abstract_state)
          restored = self.manager.restore(s, args=ocp.args.Composite(**items))
          expected = restored["meta"].get("digest")
          if expected and digest(restored["state"]) != expected:
            raise ValueError("its bytes no longer match the digest recorded when it was saved")
          return restored["state"], s
        except UserError:
          raise
        except Exception as e:  # noqa: BLE001
          self.quarantine(s, e)
      if not self.steps():
        break
    raise UserError(f"no readable checkpoint left in {self.directory} (damaged ones are in "
                    f"{self.workdir}/checkpoints_corrupt); start a new --workdir")

  def _check_layout(self, step, abstract_state):
    """A checkpoint of another model is the user's mistake, not damage: say so instead of setting it aside."""
    saved = self.manager.item_metadata(step)["state"]
    if saved is None:
      raise ValueError("its state metadata is missing")
    want, have = _shapes_by_path(abstract_state), _shapes_by_path(saved)
    if want != have:
      diff = sorted(set(want.items()) ^ set(have.items()))[:3]
      raise UserError(f"checkpoint step {step} in {self.directory} holds another model (differences: {diff}); "
                      f"it was written by a different config or genjax version; use a new --workdir")

  def quarantine(self, step, error):
    """Move a damaged step out of Orbax's sight (never deleted) and say what was skipped and why.

    A step that vanished meanwhile was removed by the run still training in this workdir (keep-N): not damage.
    """
    target = epath.Path(self.workdir) / "checkpoints_corrupt" / str(step)
    if jax.process_index() == 0 and self._step_dir(step).is_dir():
      while target.exists():
        target = target.with_name(target.name + "+")
      target.parent.mkdir(parents=True, exist_ok=True)
      self._step_dir(step).rename(target)
      print(f"genjax: warning: skipped checkpoint step {step} ({_reason(error)}); moved it to {target}",
            file=sys.stderr)
    multihost_utils.sync_global_devices(f"genjax quarantine {step}")
    self.manager.reload()

  def _step_dir(self, step):
    return epath.Path(self.directory) / str(step)

  def close(self):
    """Always safe in a `finally`: a failure here was already raised by save() or wait() on the way out."""
    try:
      self.manager.close()
    except Exception as e:  # noqa: BLE001
      print(f"genjax: warning: closing checkpoints: {_reason(e)}", file=sys.stderr)


def _shapes_by_path(tree):
  """{'opt_state/1/0/mu/head/bias': shape}: comparable whether a node is a namedtuple, list or dict."""
  leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
  return {jax.tree_util.keystr(p, simple=True, separator="/"): tuple(x.shape) for p, x in leaves}


def digest(state):
  """SHA-256 over the parameters' and optimizer state's bytes, leaves in path order: equal runs match."""
  parts = {k: state[k] for k in ("params", "opt_state") if k in state}
  h = hashlib.sha256()
  for path, leaf in sorted(jax.tree_util.tree_flatten_with_path(parts)[0], key=lambda kv: jax.tree_util.keystr(
      kv[0])):
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
      leaf = multihost_utils.process_allgather(leaf, tiled=True)
    a = np.ascontiguousarray(np.asarray(leaf))
    h.update(f"{jax.tree_util.keystr(path)}:{a.dtype}:{a.shape}".encode() + a.tobytes())
  return h.hexdigest()


def _reason(error):
  lines = str(error).strip().splitlines()
  return f"{type(error).__name__}: {lines[0] if lines else ''}"[:300]


def abstract(state_shapes, shardings):
  return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), state_shapes, shardings)
