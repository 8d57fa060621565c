"""Command line: `genjax train | sample | eval | info | prepare`.

  genjax train --config configs/char_rnn_shakespeare.py:cpu --workdir runs/shk [--config.optim.lr=1e-3 ...]
  genjax sample --workdir runs/shk [-n 4] [--prompt "ROMEO:"] [--temperature 0.8] [--length 500]
  genjax sample --workdir runs/svae --interpolate "First line." "Second line." [-n 8]   # VAEs of text
  genjax eval --workdir runs/shk

  genjax info --workdir runs/shk          # config, latest committed step, digest of params + optimizer state
  genjax info --config configs/vae_mnist.py:cpu [--mesh '(4, 2)']
                                          # parameters, bytes per device, one step's FLOPs and memory (XLA's)
  genjax prepare --config configs/conv_vae_mnist.py:cpu --out /data/mnist_prepared [--shards 8]
                                          # the config's data as ArrayRecord shards; train with
                                          # --config.data.prepared=/data/mnist_prepared

Exit status: 0 done; 2 a user mistake, printed as one line `genjax: error: ...` (`--debug` shows the
traceback); 75 stopped by SIGTERM/SIGINT after saving a checkpoint: rerun the same command to resume.
"""

import argparse
import ast
import contextlib
import os
import sys

from genjax.errors import EXIT_USER_ERROR, UserError


def parse(argv):
  parser = argparse.ArgumentParser(prog="genjax", description=__doc__.split("\n")[0])
  parser.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
  sub = parser.add_subparsers(dest="command", required=True)
  tr = sub.add_parser("train", help="train, or resume the run in --workdir")
  tr.add_argument("--config", required=True, help="configs/NAME.py[:smoke|:cpu], then --config.KEY=VALUE overrides")
  tr.add_argument("--workdir", required=True)
  sa = sub.add_parser("sample", help="write samples from the latest checkpoint")
  sa.add_argument("--workdir", required=True)
  sa.add_argument("-n", type=int, default=None, help="number of samples")
  sa.add_argument("--prompt", default=None)
  sa.add_argument("--temperature", type=float, default=None)
  sa.add_argument("--length", type=int, default=None)
  sa.add_argument("--top-k", type=int, default=None)
  sa.add_argument("--label", type=int, default=None,
                  help="class-conditional models: the class of every sample (default: each class in turn)")
  sa.add_argument("--seed", type=int, default=0)
  sa.add_argument("--separate", action="store_true", help="image tasks: one PNG per image instead of a grid")
  sa.add_argument("--interpolate", nargs=2, metavar=("A", "B"), default=None,
                  help="text VAEs: n decodings (default 8) along the latent line from line A to line B")
  ev = sub.add_parser("eval", help="score the whole held-out split with the latest checkpoint "
                                   "(--config.KEY=VALUE sets evaluation settings, e.g. eval_iw_samples)")
  ev.add_argument("--workdir", required=True)
  info = sub.add_parser("info", help="--workdir: config name, latest committed step, SHA-256 of params + optimizer "
                                     "state; --config: the run's size per device and one step's FLOPs and memory, "
                                     "without training")
  which = info.add_mutually_exclusive_group(required=True)
  which.add_argument("--workdir")
  which.add_argument("--config", help="configs/NAME.py[:variant], then --config.KEY=VALUE overrides")
  info.add_argument("--mesh", default=None, help="with --config: the mesh shape to size, e.g. '(4, 2)' (more devices "
                    "than this machine has: set XLA_FLAGS=--xla_force_host_platform_device_count=N)")
  pr = sub.add_parser("prepare", help="write the config's data as sharded ArrayRecord files for "
                                       "--config.data.prepared")
  pr.add_argument("--config", required=True, help="configs/NAME.py[:variant], then --config.KEY=VALUE overrides")
  pr.add_argument("--out", required=True, help="a new folder")
  pr.add_argument("--shards", type=int, default=0, help="shards per split (default: ~64 MB each); a multiple "
                                                         "of the training processes")
  args, rest = parser.parse_known_args(argv)
  if rest and args.command not in ("train", "eval", "prepare") and not (args.command == "info" and args.config):
    parser.error(f"unrecognized arguments: {' '.join(rest)}")
  return args, rest


def load_config(spec, overrides):
  """A locked ConfigDict from `path.py[:variant]` plus `--config.a.b=v` overrides (typos are rejected)."""
  from absl import flags
  from ml_collections import config_flags

  from genjax import config as genjax_config
  path, colon, variant = spec.partition(":")
  if not os.path.isfile(path):
    raise UserError(f"config file {path} not found; pass --config configs/NAME.py[:variant]")
  for o in overrides:
    if not o.startswith("--config."):
      raise UserError(f"unrecognized argument {o!r}; overrides look like --config.optim.lr=3e-4")
  fv = flags.FlagValues()
  try:  # loaded here, not by config_flags' file flag, whose loader (load_module) Python 3.12 removes
    config = genjax_config.load_file(path).get_config(*((variant,) if colon else ()))
    argv = ["genjax", *overrides]
    config_flags.DEFINE_config_dict("config", config, flag_values=fv, lock_config=True, sys_argv=argv)
    fv(argv)
  except Exception as e:  # noqa: BLE001  (a config file can raise anything; say where, in one line)
    where = _config_file_line(e, path)
    if where:
      raise UserError(f"config file {where}: {type(e).__name__}: {e}") from e
    if not isinstance(e, (flags.Error, KeyError, AttributeError, ValueError, TypeError)):
      raise
    raise UserError(f"bad config {spec} {' '.join(overrides)}: {_one_line(e)}") from None
  return fv.config


def _config_file_line(error, path):
  """'FILE line N' of the innermost frame of `error` in a config file (this one, or a sibling it builds on),
  else None: the error is the config's own, not genjax's."""
  import traceback
  folder = os.path.dirname(os.path.realpath(path))
  here = lambda f: os.path.dirname(os.path.realpath(f)) == folder  # noqa: E731
  if isinstance(error, SyntaxError) and error.filename and here(error.filename):
    return f"{os.path.relpath(error.filename)} line {error.lineno}"
  frames = [f for f in traceback.extract_tb(error.__traceback__) if here(f.filename)]
  return f"{os.path.relpath(frames[-1].filename)} line {frames[-1].lineno}" if frames else None


def eval_overrides(args):
  """--config.KEY=VALUE pairs for `genjax eval`, values parsed as Python literals."""
  out = {}
  for a in args:
    if not a.startswith("--config.") or "=" not in a:
      raise UserError(f"unrecognized argument {a!r}; eval takes --config.KEY=VALUE, e.g. --config.eval_iw_samples=1000")
    key, value = a[len("--config."):].split("=", 1)
    with contextlib.suppress(ValueError, SyntaxError):
      value = ast.literal_eval(value)
    out[key] = value
  return out


def _one_line(error):
  """absl and ml_collections nest repr()s of messages; unwrap them into one readable line."""
  text = str(error).strip() or type(error).__name__
  with contextlib.suppress(ValueError, SyntaxError):
    text = ast.literal_eval(text) if text[0] in "'\"" else text
  text = str(text)
  if "Traceback (most recent call last)" in text:  # an error inside the config file: its last line says it
    return text.strip().splitlines()[-1].strip()
  return " ".join(text.split())


def main(argv=None, stream=None):
  args, rest = parse(sys.argv[1:] if argv is None else argv)
  from genjax.train import preemption
  try:
    return dispatch(args, rest, stream)
  except preemption.Preempted as e:
    print(f"genjax: {e}", file=sys.stderr)
    return preemption.EXIT_PREEMPTED
  except UserError as e:
    if args.debug:
      raise
    print(f"genjax: error: {e}", file=sys.stderr)
    return EXIT_USER_ERROR


def dispatch(args, rest, stream):
  from genjax.train import trainer
  if os.environ.get("GENJAX_DISTRIBUTED") == "1":
    from genjax.train import distributed
    distributed.join_job()
  if args.command == "train":
    config = load_config(args.config, rest)
    trainer.train(config, args.workdir, stream=stream)
    print(f"done; samples in {os.path.join(args.workdir, 'samples')}")
  elif args.command == "sample":
    _, path = trainer.sample(args.workdir, args.n, args.prompt, args.temperature, args.length, args.top_k,
                             args.seed, args.separate, args.interpolate, args.label)
    from etils import epath
    if path.endswith(".txt") and epath.Path(path).is_file():  # text: print what was written (even in a bucket)
      print(epath.Path(path).read_text(encoding="utf-8"), end="")
    print(f"\n(written to {path})", file=sys.stderr)
  elif args.command == "eval":
    result, path = trainer.evaluate(args.workdir, eval_overrides(rest))
    print(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items()))
    print(f"(written to {path})", file=sys.stderr)
  elif args.command == "prepare":
    print(f"prepared in {trainer.prepare(load_config(args.config, rest), args.out, args.shards)}")
  elif args.command == "info" and args.workdir:
    for key, value in trainer.info(args.workdir).items():
      print(f"{key}: {value}")
  elif args.command == "info":
    from genjax.train import sizing
    mesh = [f"--config.mesh.shape={args.mesh}"] if args.mesh else []
    for key, value in sizing.size(load_config(args.config, rest + mesh)).items():
      print(f"{key}: {value:,}" if isinstance(value, (int, float)) else f"{key}: {value}")
  return 0


def run():
  sys.exit(main())


if __name__ == "__main__":
  run()
