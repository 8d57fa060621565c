"""The one trainer. It never knows the model family: it calls a task's pure functions over pytrees.

Reads top to bottom: workdir check -> mesh -> data -> task -> sharded state (fresh or restored) ->
jitted steps -> loop with logging, evaluation, samples and checkpoints.
"""

import functools
import json
import os
import time
from importlib import metadata

import jax
import jax.numpy as jnp
import ml_collections
from jax.sharding import NamedSharding, PartitionSpec as P

from genjax import config as genjax_config
from genjax import tasks
from genjax.data import pipeline
from genjax.errors import UserError
from genjax.train import checkpoint, log, sharding

# Keys that may change between a run and its resumption; any other difference means another experiment.
RESUMABLE_KEYS = {"steps", "log_every", "eval_every", "eval_batches", "sample_every", "ckpt_every", "keep_ckpts",
                  "data_threads", "sample", "mesh", "rules"}


class Run:
  """Everything a command needs about one workdir: config, task, mesh, shardings, checkpoints."""

  def __init__(self, config, workdir, data_meta, create=True):
    self.config, self.workdir = config, workdir
    self.task = tasks.get(config.task)(config, data_meta)
    self.mesh = sharding.make_mesh(config.mesh.shape)
    self.shapes = jax.eval_shape(self.task.init, jax.random.PRNGKey(0))
    self.state_sh = sharding.state_shardings(self.shapes, self.task.tx, self.task.PARAM_AXES, config.rules,
                                             self.mesh)
    self.batch_sh = pipeline.batch_sharding(self.mesh)
    self.replicated = NamedSharding(self.mesh, P())
    self.ckpts = checkpoint.Checkpoints(workdir, config.keep_ckpts, create=create)

  def init_state(self):
    init = jax.jit(self.task.init, out_shardings=self.state_sh)
    return init(jax.random.PRNGKey(self.config.seed))

  def restore(self, step=None, data_iter=None):
    return self.ckpts.restore(checkpoint.abstract(self.shapes, self.state_sh), step, data_iter)

  @functools.cached_property
  def eval_step(self):
    return jax.jit(self.task.eval_step, in_shardings=(self.state_sh, self.batch_sh),
                   out_shardings=self.replicated)

  def evaluate(self, state, source, transform, max_batches=None):
    """Sums of the task's eval metrics over the held-out split (or its first `max_batches` batches)."""
    totals = None
    batches = pipeline.eval_batches(source, transform, self.config.batch_size, jax.process_index(),
                                    jax.process_count())
    for i, batch in enumerate(batches):
      if max_batches is not None and i >= max_batches:
        break
      sums = self.eval_step(state, pipeline.to_global(batch, self.mesh))
      totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
    return self.task.summarize(jax.device_get(totals))

  def write_samples(self, params, step, rng, name=None, **overrides):
    s = dict(self.config.sample.to_dict(), **overrides)
    samples = self.task.sample(params, rng, s["prompt"], s["n"], s["length"], s["temperature"], s["top_k"])
    path = os.path.join(self.workdir, "samples", name or f"step_{step}.txt")
    if jax.process_index() == 0:
      self.task.write_samples(samples, path)
    return samples, path


def check_workdir(workdir):
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise UserError(f"workdir {workdir} is a file; pass --workdir a new or existing run folder")


def check_same_experiment(saved_json, config):
  saved = json.loads(saved_json)
  now = json.loads(config.to_json_best_effort())
  diff = sorted(k for k in set(saved) | set(now) if k not in RESUMABLE_KEYS and saved.get(k) != now.get(k))
  if diff:
    raise UserError(f"the workdir holds a run of {saved.get('name')!r}, which differs in {diff}; use a new "
                    f"--workdir, or rerun with that run's config to resume it")


def versions():
  return {p: metadata.version(p) for p in ("jax", "flax", "optax", "orbax-checkpoint", "grain")}


def train(config, workdir, stream=None, stop_after=None):
  """Train (or resume) `config` in `workdir`; returns the last state.

  `stop_after` ends this invocation after that many steps with a checkpoint, as a preempted job would; the
  same command then resumes it.
  """
  check_workdir(workdir)
  task_cls = tasks.get(config.task)
  genjax_config.check(config)
  task_cls.check_config(config)
  sharding.check_batch(config.batch_size, sharding.make_mesh(config.mesh.shape))
  latest = checkpoint.Checkpoints(workdir, create=False).latest_step() if os.path.isdir(workdir) else None
  saved_meta = checkpoint.Checkpoints(workdir, create=False).meta(latest) if latest is not None else None
  if saved_meta:
    check_same_experiment(saved_meta["config"], config)
  data = task_cls.load_data(config)
  if saved_meta and saved_meta["data"]["fingerprint"] != data.meta["fingerprint"]:
    raise UserError("the training data changed since this run started (fingerprint differs); restore the "
                    "original data or start a new --workdir")
  run = Run(config, workdir, data.meta)
  meta = {"config": config.to_json_best_effort(), "data": data.meta, "versions": versions()}

  it = pipeline.train_iterator(data.train, data.transform, config.batch_size, config.seed, jax.process_index(),
                               jax.process_count(), config.data_threads)
  state = run.restore(latest, it) if latest is not None else run.init_state()
  step = latest or 0
  train_step = jax.jit(run.task.train_step, in_shardings=(run.state_sh, run.batch_sh),
                       out_shardings=(run.state_sh, run.replicated), donate_argnums=0)

  writer = log.MetricWriter(workdir, active=jax.process_index() == 0)
  progress = log.Progress(config.steps, config.batch_size, **({"stream": stream} if stream else {}))
  progress.message(f"{config.name}: {'resuming at step ' + str(step) if latest else 'starting'} in {workdir} "
                   f"on mesh {dict(run.mesh.shape)}")
  t0, start = time.perf_counter(), step
  end = config.steps if stop_after is None else min(config.steps, step + stop_after)
  totals, count = None, 0
  try:
    while step < end:
      state, metrics = train_step(state, pipeline.to_global(next(it), run.mesh))
      if step == start:
        progress.message(f"first step (compile included) took {first_step_seconds(t0, metrics):.1f}s")
        progress.start(step + 1)  # examples/s then measures training, not compilation
      totals = metrics if totals is None else jax.tree.map(jnp.add, totals, metrics)
      step, count = step + 1, count + 1
      last = step == config.steps
      if step % config.log_every == 0 or step == end:
        means = {k: float(v) / count for k, v in jax.device_get(totals).items()}
        means["examples_per_s"] = progress.update(step, means)
        writer.scalars(step, means, "train/")
        totals, count = None, 0
      if step % config.eval_every == 0 or last:
        result = run.evaluate(state, data.eval, data.eval_transform, config.eval_batches)
        writer.scalars(step, result, "eval/")
        progress.message(f"eval at step {step}: " + " ".join(f"{k} {v:.4f}" for k, v in result.items()))
      if step % config.sample_every == 0 or last:
        samples, _ = run.write_samples(state["params"], step, jax.random.PRNGKey(step))
        writer.text(step, "samples", samples[0])
      if step % config.ckpt_every == 0 or step == end:
        run.ckpts.save(step, state, it, meta)
  finally:
    run.ckpts.wait()
    run.ckpts.close()
    writer.close()
  return state


def first_step_seconds(t0, metrics):
  """Blocks once, on the first step only: how long a researcher waits before training really starts."""
  jax.block_until_ready(metrics)
  return time.perf_counter() - t0


def open_run(workdir):
  """A finished or running workdir, laid out on this machine's devices (any count) for sampling/eval."""
  check_workdir(workdir)
  if not os.path.isdir(os.path.join(workdir, "checkpoints")):
    raise UserError(f"no checkpoints in {workdir}; train first with `genjax train --config ... --workdir "
                    f"{workdir}`")
  ckpts = checkpoint.Checkpoints(workdir, create=False)
  step = ckpts.latest_step()
  if step is None:
    raise UserError(f"{workdir}/checkpoints holds no complete checkpoint yet; wait for the first save")
  meta = ckpts.meta(step)
  config = ml_collections.ConfigDict(json.loads(meta["config"]))
  config.mesh.shape = (-1, 1)
  config.batch_size = config.batch_size // jax.device_count() * jax.device_count() or jax.device_count()
  run = Run(config, workdir, meta["data"], create=False)
  return run, run.restore(step), step


def sample(workdir, n=None, prompt=None, temperature=None, length=None, top_k=None, seed=0):
  run, state, step = open_run(workdir)
  overrides = {k: v for k, v in dict(n=n, prompt=prompt, temperature=temperature, length=length,
                                      top_k=top_k).items() if v is not None}
  return run.write_samples(state["params"], step, jax.random.PRNGKey(seed), name=f"sample_step_{step}.txt",
                           **overrides)


def evaluate(workdir):
  """The whole held-out split; writes workdir/eval_step_N.json and returns the metrics."""
  run, state, step = open_run(workdir)
  data = tasks.get(run.config.task).load_data(run.config)
  result = {k: float(v) for k, v in run.evaluate(state, data.eval, data.eval_transform).items()}
  result["step"] = step
  path = os.path.join(workdir, f"eval_step_{step}.json")
  if jax.process_index() == 0:
    with open(path + ".tmp", "w") as f:
      json.dump(result, f, indent=1)
    os.replace(path + ".tmp", path)
  return result, path
