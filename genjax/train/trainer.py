"""The one trainer. It never knows the model family: it calls a task's pure functions over pytrees.

Reads top to bottom: checks -> workdir lock -> checkpoints -> data -> task -> sharded state (fresh or
restored) -> jitted, guarded step -> loop with logging, evaluation, samples, checkpoints and preemption.
"""

import functools
import json
import os
import time
from importlib import metadata

import jax
import ml_collections
from etils import epath
from jax.sharding import NamedSharding, PartitionSpec as P

from genjax import config as genjax_config
from genjax import files
from genjax import tasks
from genjax.data import pipeline
from genjax.errors import UserError
from genjax.train import checkpoint, guard, log, preemption, sharding
from genjax.train import workdir as workdirs

# Keys that may change between a run and its resumption; any other difference means another experiment.
RESUMABLE_KEYS = {"steps", "log_every", "eval_every", "eval_batches", "sample_every", "ckpt_every", "keep_ckpts",
                  "data_threads", "sample", "mesh", "rules", "fsdp", "grad_accum", "precision", "remat", "nonfinite",
                  "eval_quality_periodic"}


# Keys `genjax eval` may set on a trained run: they change how it is scored, not what was trained.
EVAL_KEYS = {"eval_iw_samples", "batch_size", "eval_quality_samples", "eval_classifier_steps", "eval_images"}


class Run:
  """Everything a command needs about one workdir: config, task, mesh, shardings, checkpoints."""

  def __init__(self, config, workdir, data_meta, ckpts):
    self.config, self.workdir, self.ckpts = config, workdir, ckpts
    self.task = tasks.get(config.task)(config, data_meta)
    self.mesh = sharding.make_mesh(config.mesh.shape)
    self.shapes = jax.eval_shape(self.init, jax.random.PRNGKey(0))
    self.state_sh = sharding.state_shardings(self.shapes, self.task.tx, self.task.PARAM_AXES, config.rules,
                                             self.mesh, config.get("fsdp", False))
    self.batch_sh = pipeline.batch_sharding(self.mesh)
    self.replicated = NamedSharding(self.mesh, P())
    # XLA CPU's in-process collectives can deadlock with several multi-device programs in flight (seen with 8
    # fake devices: "Expected 8 threads to join the rendezvous"); there, wait for each step. CPU meshes of
    # more than one device exist for tests and development only, so no real run pays for this.
    self.one_at_a_time = jax.default_backend() == "cpu" and self.mesh.size > 1

  def init(self, rng):
    return dict(self.task.init(rng), guard=guard.init())

  def init_state(self):
    return jax.jit(self.init, out_shardings=self.state_sh)(jax.random.PRNGKey(self.config.seed))

  def restore(self, data_iter=None):
    """(state, step) from the newest valid checkpoint, on this run's mesh."""
    return self.ckpts.restore(checkpoint.abstract(self.shapes, self.state_sh), data_iter)

  @functools.cached_property
  def train_step(self):
    return jax.jit(self.under_mesh(guard.wrap(self.task.train_step)), in_shardings=(self.state_sh, self.batch_sh),
                   out_shardings=(self.state_sh, self.replicated), donate_argnums=0)

  @functools.cached_property
  def eval_step(self):
    return jax.jit(self.under_mesh(self.task.eval_step), in_shardings=(self.state_sh, self.batch_sh),
                   out_shardings=self.replicated)

  def under_mesh(self, fn):
    """`fn` traced with this run's mesh as the context mesh, so a task can split arrays it makes itself
    (tasks.common.over_batch)."""
    def traced(*args):
      with jax.sharding.use_abstract_mesh(self.mesh.abstract_mesh):
        return fn(*args)
    return traced

  def evaluate(self, state, source, transform, max_batches=None):
    """Sums of the task's eval metrics over the held-out split (or its first `max_batches` batches)."""
    sums = []
    batches = pipeline.eval_batches(source, transform, self.config.batch_size, jax.process_index(),
                                    jax.process_count())
    for i, batch in enumerate(batches):
      if max_batches is not None and i >= max_batches:
        break
      sums.append(self.eval_step(state, pipeline.to_global(batch, self.mesh)))
      if self.one_at_a_time:
        jax.block_until_ready(sums[-1])
    return self.task.summarize(host_sum(sums))

  def write_samples(self, params, step, rng, name=None, separate=False, **overrides):
    """Samples with the config's settings (CLI overrides on top); written on process 0 under samples/ by the
    modality (a .txt, a PNG grid, a folder of WAVs) or, with `separate`, one file per image in a folder."""
    unknown = sorted(set(overrides) - set(self.config.sample))
    if unknown:
      raise UserError(f"{', '.join('--' + k.replace('_', '-') for k in unknown)} does not apply to the "
                      f"{self.config.task} task; its sampling settings are {sorted(self.config.sample)}")
    samples = self.task.sample(params, rng, **dict(self.config.sample.to_dict(), **overrides))
    stem = os.path.join(self.workdir, "samples", name or f"step_{step}")
    modality = self.task.modality
    write = modality.write_separate if separate else modality.write_samples
    path = write(samples, stem) if jax.process_index() == 0 else stem
    return samples, path


def check_same_experiment(saved_json, config):
  saved = genjax_config.saved(saved_json)
  now = genjax_config.saved(config.to_json_best_effort())  # both filled alike: a recipe may replace a section
  diff = sorted(k for k in set(saved) | set(now) if k not in RESUMABLE_KEYS and saved.get(k) != now.get(k))
  if diff:
    raise UserError(f"the workdir holds a run of {saved.get('name')!r}, which differs in {diff}; use a new "
                    f"--workdir, or rerun with that run's config to resume it")


def check_same_processes(saved_meta, processes):
  """Each process saved the data position of its own slice of the training set; on another process count the
  slices move, and no rule keeps every example once per epoch, so refuse (sampling and eval run on any count)."""
  before = saved_meta.get("processes", processes)  # runs saved before genjax recorded it: not checked
  if before != processes:
    raise UserError(f"this run was trained by {before} processes and is resuming on {processes}: the data "
                    f"positions in its checkpoints are per process; resume it with {before} processes (any "
                    f"device count each), or start a new --workdir (genjax sample/eval run on any count)")


def versions():
  return {p: metadata.version(p) for p in ("jax", "flax", "optax", "orbax-checkpoint", "grain")}


def train(config, workdir, stream=None, stop_after=None):
  """Train (or resume) `config` in `workdir`; returns the last state.

  `stop_after` ends this invocation after that many steps with a checkpoint, as a preempted job would; the
  same command then resumes it. SIGTERM/SIGINT do the same and raise `preemption.Preempted`.
  """
  workdirs.check(workdir)
  task_cls = tasks.get(config.task)
  genjax_config.check(config)
  task_cls.check_config(config)
  sharding.check_batch(config.batch_size, sharding.make_mesh(config.mesh.shape), config.get("grad_accum", 1))
  if (epath.Path(workdir) / "checkpoints").is_dir():  # refuse another experiment before touching anything
    peek = checkpoint.Checkpoints(workdir, create=False)
    _, saved = peek.newest_meta()
    peek.close()
    if saved:
      check_same_experiment(saved["config"], config)
      check_same_processes(saved, jax.process_count())
  with workdirs.lock(workdir, active=jax.process_index() == 0), preemption.catch_signals() as stop:
    return _train(config, workdir, task_cls, stream, stop_after, stop)


def _train(config, workdir, task_cls, stream, stop_after, stop):
  ckpts = checkpoint.Checkpoints(workdir, config.keep_ckpts)
  try:
    return _train_with(ckpts, config, workdir, task_cls, stream, stop_after, stop)
  finally:
    ckpts.close()


def _train_with(ckpts, config, workdir, task_cls, stream, stop_after, stop):
  latest, saved = ckpts.newest_meta()
  data = task_cls.load_data(config)
  if saved and saved["data"]["fingerprint"] != data.meta["fingerprint"]:
    raise UserError("the training data changed since this run started (fingerprint differs); restore the "
                    "original data or start a new --workdir")
  if saved and prepared_digest(saved["data"]) != prepared_digest(data.meta):
    raise UserError(f"this run trained on prepared data with manifest SHA-256 {prepared_digest(saved['data'])}, "
                    f"{config.data.prepared or 'the in-memory data'} now has {prepared_digest(data.meta)}; point "
                    f"--config.data.prepared at the data the run started with, or start a new --workdir")
  if saved and saved.get("pipeline") != pipeline.VERSION:
    raise UserError(f"this run's checkpoints hold a data position of the {saved.get('pipeline', 'per-example')} "
                    f"pipeline, which this genjax ({pipeline.VERSION}) cannot continue exactly; finish the run "
                    f"with the genjax that started it, or start a new --workdir")
  run = Run(config, workdir, saved["data"] if saved else data.meta, ckpts)
  meta = {"config": config.to_json_best_effort(), "data": data.meta, "versions": versions(),
          "pipeline": pipeline.VERSION, "processes": jax.process_count()}
  it = pipeline.train_iterator(data.train, data.transform, config.batch_size, config.seed, jax.process_index(),
                               jax.process_count(), config.data_threads)
  state, step = run.restore(it) if latest is not None else (run.init_state(), 0)

  writer = log.MetricWriter(workdir, active=jax.process_index() == 0)
  progress = log.Progress(config.steps, config.batch_size, **({"stream": stream} if stream else {}))
  progress.message(f"{config.name}: {'resuming at step ' + str(step) if step else 'starting'} in {workdir} "
                   f"on mesh {dict(run.mesh.shape)}")
  end = config.steps if stop_after is None else min(config.steps, step + stop_after)
  t0, start, window = time.perf_counter(), step, []
  try:
    while step < end:
      state, metrics = run.train_step(state, pipeline.to_global(next(it), run.mesh))
      if run.one_at_a_time:
        jax.block_until_ready(metrics)
      if step == start:
        progress.message(f"first step (compile included) took {first_step_seconds(t0, metrics):.1f}s")
        progress.start(step + 1)  # examples/s then measures training, not compilation
      window.append(metrics)
      step += 1
      if step % config.log_every == 0 or step == end:
        log_window(run, state, window, step, writer, progress)
        window = []
      if step % config.eval_every == 0 or step == config.steps:
        result = run.evaluate(state, data.eval, data.eval_transform, config.eval_batches)
        if config.get("eval_quality_periodic"):  # sample quality against wall-clock, on fewer samples
          result.update(sample_quality(run, state["params"], data, config.eval_quality_periodic, progress.message))
        writer.scalars(step, result, "eval/")
        progress.message(f"eval at step {step}: " + " ".join(f"{k} {v:.4f}" for k, v in result.items()))
      if step % config.sample_every == 0 or step == config.steps:
        samples, _ = run.write_samples(state["params"], step, jax.random.PRNGKey(step))
        writer.samples(step, samples, run.task.modality)
      stopping = stop.agreed(sync_point=step % config.log_every == 0)
      if step % config.ckpt_every == 0 or step == end or stopping:
        check_guard(run, state)
        ckpts.save(step, state, it, meta)
      if stopping:
        ckpts.wait()
        raise preemption.Preempted(step, stop.signal_name)
    ckpts.wait()
  finally:
    writer.close()
    it.close()
  return state


def prepared_digest(data_meta):
  """The SHA-256 of the prepared dataset's manifest a run reads, or None for in-memory data."""
  return data_meta.get("prepared", {}).get("manifest_sha256")


def sample_quality(run, params, data, n=None, log=print):
  """The task's sample-quality metrics, or {} (saying why) when the data holds no reference examples."""
  if data.test is None:
    log("sample quality skipped: it compares samples with the in-memory test split, which prepared data "
        "(data.prepared) does not hold")
    return {}
  return run.task.quality(params, data, n, log)


def log_window(run, state, window, step, writer, progress):
  """Fetch the window's metrics (the only regular host sync), report means over its finite steps."""
  totals = host_sum(window)
  finite = totals.pop("finite")
  means = {k: float(v) / max(finite, 1) for k, v in totals.items()}
  means["nonfinite_steps"] = len(window) - finite
  means["examples_per_s"] = progress.update(step, means)
  writer.scalars(step, means, "train/")
  check_guard(run, state)


def host_sum(metrics):
  """Sum of a list of metric dicts, on the host. Adding them on device while steps are still in flight can
  deadlock XLA CPU's in-process collectives (seen with 8 fake devices: 'Expected 8 threads to join')."""
  fetched = jax.device_get(metrics)
  return {k: sum(float(m[k]) for m in fetched) for k in fetched[0]}


def check_guard(run, state):
  nf = run.config.nonfinite
  problem = guard.verdict(state["guard"], nf.policy, nf.patience)
  if problem:
    steps = run.ckpts.steps()
    raise UserError(f"{problem}; the last good checkpoint is step {steps[0] if steps else 'none'}; lower "
                    f"--config.optim.lr or raise --config.nonfinite.patience, then rerun to resume from it")


def first_step_seconds(t0, metrics):
  """Blocks once, on the first step only: how long a researcher waits before training really starts."""
  jax.block_until_ready(metrics)
  return time.perf_counter() - t0


def open_run(workdir, overrides=None):
  """A finished or running workdir, laid out on this machine's devices (any count) for sampling/eval."""
  workdirs.check(workdir)
  if not (epath.Path(workdir) / "checkpoints").is_dir():
    raise UserError(f"no checkpoints in {workdir}; train first with `genjax train --config ... --workdir "
                    f"{workdir}`")
  ckpts = checkpoint.Checkpoints(workdir, create=False)
  step, meta = ckpts.newest_meta()
  if step is None:
    raise UserError(f"{workdir}/checkpoints holds no complete checkpoint yet; wait for the first save")
  config = ml_collections.ConfigDict(genjax_config.saved(meta["config"]))
  for key, value in (overrides or {}).items():
    if key.split(".")[0] not in RESUMABLE_KEYS | EVAL_KEYS:
      raise UserError(f"--config.{key} cannot change for a trained run; only evaluation settings can")
    if "." in key or key in config:
      config.update_from_flattened_dict({key: value})
    else:
      config[key] = value  # an evaluation setting newer than the run
  config.mesh.shape = (-1, 1)
  config.batch_size = config.batch_size // jax.device_count() * jax.device_count() or jax.device_count()
  run = Run(config, workdir, meta["data"], ckpts)
  state, step = run.restore()
  return run, state, step


def sample(workdir, n=None, prompt=None, temperature=None, length=None, top_k=None, seed=0, separate=False,
           interpolate=None, label=None):
  """Samples from the latest checkpoint; with `interpolate` (two inputs), n decodings along the latent line
  between them (VAEs of text)."""
  run, state, step = open_run(workdir)
  if interpolate:
    if not hasattr(run.task, "interpolate"):
      raise UserError(f"--interpolate needs a VAE; this run is a {run.config.task} model")
    samples = run.task.interpolate(state["params"], *interpolate, steps=n or 8)
    stem = os.path.join(workdir, "samples", f"interpolate_step_{step}")
    return samples, (run.task.modality.write_samples(samples, stem) if jax.process_index() == 0 else stem)
  overrides = {k: v for k, v in dict(n=n, prompt=prompt, temperature=temperature, length=length,
                                      top_k=top_k, label=label).items() if v is not None}
  return run.write_samples(state["params"], step, jax.random.PRNGKey(seed), name=f"sample_step_{step}",
                           separate=separate, **overrides)


def evaluate(workdir, overrides=None):
  """The whole held-out split; writes workdir/eval_step_N.json and returns the metrics."""
  run, state, step = open_run(workdir, overrides)
  data = tasks.get(run.config.task).load_data(run.config)
  subset = run.config.get("eval_images", 0)  # the first N held-out examples, for costly bounds; 0: all
  source = pipeline.Head(data.eval, subset) if subset else data.eval
  result = {k: float(v) for k, v in run.evaluate(state, source, data.eval_transform).items()}
  result.update({k: float(v) for k, v in sample_quality(run, state["params"], data).items()})
  if hasattr(run.task, "write_figures") and data.test is not None and jax.process_index() == 0:
    run.task.write_figures(state["params"], data, os.path.join(workdir, "samples", f"step_{step}"))
  result["step"] = step
  path = os.path.join(workdir, f"eval_step_{step}.json")
  if jax.process_index() == 0:
    files.write_atomic(path, json.dumps(result, indent=1))
  return result, path


def prepare(config, out, shards=0, log=print):
  """`config`'s data (as its task loads it) written as a prepared dataset in `out`; returns the folder."""
  from genjax.data import prepared
  if config.data.get("prepared"):
    raise UserError("data.prepared is set: prepare reads the config's own data; drop --config.data.prepared")
  task_cls = tasks.get(config.task)
  genjax_config.check(config)
  task_cls.check_config(config)
  data = task_cls.load_data(config)
  return prepared.write(data, out, config.data.to_dict(), config.modality, shards, config.seed, log)


def info(workdir):
  """What `genjax info` prints: enough to tell whether two runs ended identical."""
  run, state, step = open_run(workdir)
  return {"config": run.config.name, "step": step, "digest": checkpoint.digest(state)}
