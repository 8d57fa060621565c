"""Training speed of one config on 1, 2, 4 and 8 devices, as the trainer itself reports it.

  python benchmarks/devices.py --config configs/vae_mnist.py:cpu [--steps 40] [--devices 1,2,4,8]
                               [--processes 2] [--json]

Each device count runs `genjax train` in its own process (on a CPU the devices are XLA's fake host devices,
`--xla_force_host_platform_device_count`, which share the same cores: the figures show the overhead of
splitting a batch, not a speed-up). Reported: the median of the trainer's logged windows
(`train/examples_per_s` in metrics.jsonl) after the first, which holds the compile, and the step time it
implies. `--processes P` splits each device count over P localhost processes joined into one job
(`GENJAX_DISTRIBUTED=1`, the path a TPU pod or SLURM run takes), so one process on n devices and P processes on
n/P each can be compared at the same global batch; process 0's log is the one read.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

NO_EVAL = ["--config.eval_every=100000", "--config.sample_every=100000", "--config.ckpt_every=100000"]


def measure(config, devices, steps, log_every, batch_size, processes=1):
  """(median examples/s, median step seconds) of a fresh run on `devices` devices over `processes` processes."""
  from genjax.train import distributed
  if devices % processes:
    raise SystemExit(f"--devices {devices} does not split over --processes {processes}: use a multiple of it")
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             XLA_FLAGS=f"--xla_force_host_platform_device_count={devices // processes}")
  env.pop("JAX_NUM_CPU_DEVICES", None)
  if processes > 1:
    env.update(GENJAX_DISTRIBUTED="1", JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{distributed.free_local_port()}",
               JAX_NUM_PROCESSES=str(processes))
  with tempfile.TemporaryDirectory() as workdir:
    cmd = [sys.executable, "-m", "genjax.main", "train", "--config", config, "--workdir", workdir,
           f"--config.steps={steps}", f"--config.log_every={log_every}", *NO_EVAL]
    workers = [subprocess.Popen(cmd, env=dict(env, JAX_PROCESS_ID=str(i)), stdout=subprocess.DEVNULL)
               for i in range(processes)]
    if any(w.wait() for w in workers):
      raise SystemExit(f"a training process failed: exit statuses {[w.returncode for w in workers]}")
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
      rates = [r["train/examples_per_s"] for r in map(json.loads, f) if "train/examples_per_s" in r][1:]
  rate = statistics.median(rates)
  return rate, batch_size / rate


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--config", required=True)
  p.add_argument("--steps", type=int, default=40)
  p.add_argument("--log-every", type=int, default=5)
  p.add_argument("--devices", default="1,2,4,8")
  p.add_argument("--processes", type=int, default=1)
  p.add_argument("--json", action="store_true")
  args = p.parse_args(argv)
  from genjax.main import load_config
  batch_size = load_config(args.config, []).batch_size
  rows = []
  for n in map(int, args.devices.split(",")):
    rate, step = measure(args.config, n, args.steps, args.log_every, batch_size, args.processes)
    rows.append({"config": args.config, "devices": n, "processes": args.processes, "batch_size": batch_size,
                 "examples_per_s": round(rate, 1), "step_ms": round(step * 1000, 1)})
    print(json.dumps(rows[-1]) if args.json else
          f"{args.config}  devices {n}  processes {args.processes}  {rate:,.0f} examples/s  "
          f"{step * 1000:.1f} ms/step", flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
