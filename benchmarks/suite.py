"""The benchmark suite: the canonical models' training steps, data pipelines and samplers on one device.

  python benchmarks/suite.py                        everything, as tables (and JSON lines with --json)
  python benchmarks/suite.py --model conv_vae [--steps 20] --json     one model, one JSON line
  python benchmarks/suite.py --pipelines --json     the data pipelines alone (in memory and from ArrayRecord
                                                    shards prepared once), one JSON line each

Each model is the real task's jitted train_step on one device: first on synthetic inputs of the canonical
shape (data loading excluded), then fed by genjax's grain pipeline from the real dataset (included: the
batch is read, transformed, batched and put on the device inside the timed step), the two taking turns step
by step. Step time is the median of `--steps` timed steps after two warm-up steps, each blocked on; also compile time, parameters, FLOPs per
step from XLA's cost analysis, and achieved FLOP/s as a fraction of this machine's float32 matmul peak
(measured here). Then the data pipeline alone per modality, against the fastest model that consumes it, and
the samplers: characters/s (char_lstm), audio samples/s and real-time factor (sample_rnn, 8 kHz; RTF is wall
seconds per second of audio generated, below 1 is faster than real time), images/s (dcgan).
Run it by hand on an idle machine (other processes distort CPU timings badly); paste the output into
BUILD_NOTES.md.
"""

import argparse
import json
import os
import platform
import statistics
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

import feeds
from genjax import tasks
from genjax.main import load_config
from genjax.train import trainer

MODELS = ("char_lstm", "conv_vae", "dcgan", "wavegan", "sample_rnn", "sentence_vae", "text_gan", "dcgan:cond",
          "conv_vae:cond")
PIPELINE_BY = {"text": "char_lstm", "image": "conv_vae", "audio": "wavegan"}  # whose data each modality times
SOURCES = ("memory", "arrayrecord")
SAMPLING = {"char_lstm": (32, 1000), "sample_rnn": (16, 8000), "dcgan": (1024, None)}  # (samples, steps) a call


def timed(call, steps):
  """Median seconds of `steps` calls of `call()` after two warm-up calls; each call blocked on."""
  return timed_alternating([call], steps)[0]


def timed_alternating(calls, steps):
  """timed() of each of `calls`, taking turns call by call: drift on a shared machine hits them alike."""
  for call in calls:
    for _ in range(2):
      jax.block_until_ready(call())
  times = [[] for _ in calls]
  for _ in range(steps):
    for call, spent in zip(calls, times):
      t0 = time.perf_counter()
      jax.block_until_ready(call())
      spent.append(time.perf_counter() - t0)
  return [statistics.median(spent) for spent in times]


def matmul_peak(n=2048, steps=10):
  """float32 FLOP/s of one large jitted matmul: this machine's practical peak."""
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  matmul = jax.jit(lambda a: a @ a)
  return 2 * n ** 3 / timed(lambda: matmul(a), steps)


def setup(name):
  """(config, task, synthetic batch) of a benchmark model; `NAME:cond` is its class-conditional variant."""
  base, colon, variant = name.partition(":")
  config = load_config(f"configs/bench/{base}.py{colon}{variant}", [])
  rng = np.random.default_rng(0)
  b = config.batch_size
  if config.modality == "text":
    return config, *text_setup(config, rng, b)
  if config.modality == "audio":
    task = tasks.get(config.task)(config, {"rate": config.data.rate, "length": config.data.length})
    clips = rng.uniform(-1, 1, (b, config.data.length))
    return config, task, {"audio": jnp.asarray(clips, jnp.float32), "mask": jnp.ones(clips.shape, jnp.float32)}
  shape = tuple(config.data.shape)
  task = tasks.get(config.task)(config, {"shape": list(shape)})
  batch = {"image": jnp.asarray(rng.random((b, *shape)), jnp.float32)}
  if config.model.classes:
    batch["label"] = jnp.asarray(rng.integers(0, config.model.classes, b), jnp.int32)
  return config, task, batch


def text_setup(config, rng, b):
  """65 symbols: windows of random ids, or (data.unit 'line') lines of random lengths, each framed and padded
  by newlines (id 0) and masked as genjax/data/text.py lays them out."""
  if config.data.unit != "line":
    task = tasks.get(config.task)(config, {"vocab": [chr(0x100 + i) for i in range(65)]})
    return task, {"tokens": jnp.asarray(rng.integers(0, 65, (b, config.data.seq_len + 1)), jnp.int32)}
  task = tasks.get(config.task)(config, {"vocab": ["\n"] + [chr(0x100 + i) for i in range(64)]})
  n = config.data.seq_len
  lengths = rng.integers(1, n + 1, b)
  pos = np.arange(n + 2)
  inside = (pos >= 1) & (pos <= lengths[:, None])
  tokens = np.where(inside, rng.integers(1, 65, (b, n + 2)), 0)
  mask = (pos <= lengths[:, None] + 1).astype(np.float32)
  return task, {"tokens": jnp.asarray(tokens, jnp.int32), "mask": jnp.asarray(mask)}


def bench_model(name, steps, peak, real_data):
  """The model's training step on synthetic inputs and (with `real_data`) fed by its data pipeline."""
  config, task, batch = setup(name)
  state = task.init(jax.random.key(0))
  params = sum(x.size for x in jax.tree.leaves(state["params"]))
  t0 = time.perf_counter()
  compiled = jax.jit(task.train_step, donate_argnums=0).lower(state, batch).compile()
  compile_s = time.perf_counter() - t0
  flops = float(compiled.cost_analysis().get("flops", 0.0))
  holder = [state]

  def step(batch):
    holder[0], metrics = compiled(holder[0], batch)
    return metrics
  calls = [lambda: step(batch)]
  if real_data:
    stream = feeds.batches(name, config, task)
    fetch = lambda: jax.device_put({k: v for k, v in next(stream).items() if k in batch})  # noqa: E731 (no labels)
    calls.append(lambda: step(fetch()))
  seconds, *with_data = timed_alternating(calls, steps)  # synthetic and fed steps take turns
  row = {"model": name, "modality": config.modality, "examples_per_s": config.batch_size / seconds,
         "step_ms_median": 1e3 * seconds, "compile_s": compile_s, "params": int(params), "flops_per_step": flops,
         "flop_fraction_of_peak": flops / seconds / peak, "batch": config.batch_size}
  for fed in with_data:
    row.update(examples_per_s_with_data=config.batch_size / fed, step_ms_median_with_data=1e3 * fed)
  if name in SAMPLING:
    row.update(sampling_speed(name, task, holder[0]["params"]))
  return row


def sampling_speed(name, task, params, repeats=3):
  """Units generated per second by the task's own sampler (what `genjax sample` runs)."""
  n, length = SAMPLING[name]
  rng = jax.random.key(1)
  if length is None:
    call = lambda: task.sample(params, rng, n)  # noqa: E731
  else:  # the synthetic vocabulary has no newline: prime on its first symbol (audio starts from silence)
    prompt = task.modality.vocab.chars[0] if name == "char_lstm" else None
    call = lambda: task.sample(params, rng, n, length, prompt=prompt)  # noqa: E731
  seconds = timed(call, repeats)  # the warm-up calls compile
  if name == "dcgan":
    return {"images_per_s": n / seconds}
  rate = n * length / seconds
  if name == "char_lstm":
    return {"chars_per_s": rate}
  return {"audio_samples_per_s": rate, "real_time_factor": feeds.AUDIO_RATE / rate}


def bench_pipeline(modality, source, prepared_root, seconds=3.0):
  """Examples/s of one modality's training pipeline alone (shuffle, batch read, batch transform, prefetch:
  numpy on the host) over `seconds` after 20 warm-up batches, at its model's batch size; `source` 'memory'
  (the loaded dataset) or 'arrayrecord' (the same data prepared once under `prepared_root`, then read from
  its shards)."""
  name = PIPELINE_BY[modality]
  config, task, _ = setup(name)
  if source == "arrayrecord":
    folder = os.path.join(prepared_root, name)
    if not os.path.isfile(os.path.join(folder, "manifest.json")):
      trainer.prepare(config, folder, log=lambda *_: None)
    with config.unlocked():
      config.data.prepared = folder
  stream = feeds.batches(name, config, task)
  feeds.drain(stream, 20)  # threads started, buffers full, the first blocks cached
  t0, examples = time.perf_counter(), 0
  while time.perf_counter() - t0 < seconds:
    examples += feeds.drain(stream, 50)
  return {"pipeline": modality, "source": source, "examples_per_s": examples / (time.perf_counter() - t0),
          "batch": config.batch_size, "threads": config.data_threads, "model": name}


def bench_pipelines(prepared_root):
  """Every modality's pipeline from memory and from ArrayRecord shards, interleaved."""
  return [bench_pipeline(m, source, prepared_root) for m in PIPELINE_BY for source in SOURCES]


def machine():
  cores = os.cpu_count()
  return f"{platform.processor() or platform.machine()}, {cores} cores, jax {jax.__version__}, {jax.devices()[0].platform}"


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--model", choices=MODELS, action="append", help="repeatable; default: all and the pipelines")
  p.add_argument("--steps", type=int, default=20)
  p.add_argument("--synthetic-only", action="store_true", help="skip everything that reads the datasets")
  p.add_argument("--pipelines", action="store_true", help="the data pipelines alone, no models")
  p.add_argument("--json", action="store_true", help="one JSON line per model and pipeline")
  p.add_argument("--prepared-root", default=os.path.join(tempfile.gettempdir(), "genjax-bench-prepared"),
                 help="where the datasets are prepared once for the arrayrecord pipelines")
  args = p.parse_args()
  if args.pipelines:
    for pipe in bench_pipelines(args.prepared_root):
      print(json.dumps(pipe) if args.json else f"pipeline {pipe['pipeline']:<6} {pipe['source']:<11} "
            f"{pipe['examples_per_s']:>10.0f} examples/s (batch {pipe['batch']}, {pipe['threads']} thread)")
    return
  peak = matmul_peak()
  rows = [bench_model(name, args.steps, peak, not args.synthetic_only) for name in (args.model or MODELS)]
  pipes = [] if args.model or args.synthetic_only else bench_pipelines(args.prepared_root)
  for pipe in pipes:
    consumers = [r["examples_per_s"] for r in rows if r["modality"] == pipe["pipeline"]]
    pipe.update(fastest_model_examples_per_s=max(consumers), times_fastest_model=pipe["examples_per_s"] / max(consumers))
  if args.json:
    for row in rows + pipes:
      print(json.dumps(dict(row, peak_flops=peak)))
  else:
    print_tables(rows, pipes, peak, args.steps)


def print_tables(rows, pipes, peak, steps):
  print(f"{machine()}; float32 matmul peak {peak / 1e9:.1f} GFLOP/s; median of {steps} steps")
  print(f"{'model':<11} {'batch':>5} {'examples/s':>11} {'step ms':>9} {'with data':>10} {'compile s':>9} "
        f"{'params':>10} {'GFLOP/step':>10} {'of peak':>8}")
  for r in rows:
    print(f"{r['model']:<11} {r['batch']:>5} {r['examples_per_s']:>11.1f} {r['step_ms_median']:>9.1f} "
          f"{r.get('examples_per_s_with_data', float('nan')):>10.1f} {r['compile_s']:>9.1f} {r['params']:>10,} "
          f"{r['flops_per_step'] / 1e9:>10.2f} {r['flop_fraction_of_peak']:>8.1%}")
  for r in pipes:
    print(f"pipeline {r['pipeline']:<6} {r['source']:<11} {r['examples_per_s']:>10.0f} examples/s = "
          f"{r['times_fastest_model']:.0f}x the fastest {r['pipeline']} model")
  for r in rows:
    if "chars_per_s" in r:
      print(f"sampling {r['model']}: {r['chars_per_s']:,.0f} characters/s")
    if "audio_samples_per_s" in r:
      print(f"sampling {r['model']}: {r['audio_samples_per_s']:,.0f} audio samples/s, real-time factor "
            f"{r['real_time_factor']:.3f} at {feeds.AUDIO_RATE} Hz")
    if "images_per_s" in r:
      print(f"sampling {r['model']}: {r['images_per_s']:,.0f} images/s")


if __name__ == "__main__":
  main()
