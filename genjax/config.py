"""Shared config defaults and helpers for configs/*.py.

Every config file builds on `base()` so that the trainer can rely on one set of keys, and returns it locked
(`lock()`), so that a typo on the command line is an error with a suggestion instead of a silent new key.
"""

import ml_collections

from genjax.errors import UserError

VARIANTS = (None, "smoke", "cpu")

# Logical axis -> mesh axis. Parameters name logical axes (see each model's PARAM_AXES); the mesh has
# ('data', 'model'). Data parallel by default; 'hidden' goes to 'model' when the mesh gives it devices.
DEFAULT_RULES = (("batch", "data"), ("vocab", None), ("embed", None), ("hidden", "model"))


def check_variant(arg):
  if arg not in VARIANTS:
    raise ValueError(f"unknown config variant {arg!r}; choose one of :smoke, :cpu or none")
  return arg


def base():
  """Keys every run has; tasks add their own `model` and `data` sections."""
  c = ml_collections.ConfigDict()
  c.name = ""                 # config file and variant, recorded with the run
  c.task = ""
  c.seed = 0
  c.steps = 10_000
  c.batch_size = 64           # global, across all devices and processes
  c.optim = dict(lr=2e-3, warmup_steps=200, decay="cosine", end_lr_frac=0.1, b1=0.9, b2=0.99,
                 weight_decay=0.0, clip_norm=1.0)
  c.mesh = dict(shape=(-1, 1))  # ('data', 'model'); -1 takes the remaining devices
  c.rules = DEFAULT_RULES
  c.log_every = 100
  c.eval_every = 1000
  c.eval_batches = 50         # periodic eval; `genjax eval` always uses the whole held-out split
  c.sample_every = 1000
  c.ckpt_every = 1000
  c.keep_ckpts = 3
  c.data_threads = 1          # grain prefetch threads: per-example work holds the GIL, so more threads slow it
  # A step with a NaN/Inf loss or gradient is dropped; 'halt' stops after `patience` in a row, 'skip' never.
  c.nonfinite = dict(policy="halt", patience=10)
  return c


def require(ok, message):
  if not ok:
    raise UserError(f"config: {message}")


def check(c):
  """Range checks of the shared keys, so a bad value fails before any work with a message, not a traceback."""
  for key in ("steps", "batch_size", "log_every", "eval_every", "sample_every", "ckpt_every", "keep_ckpts"):
    require(isinstance(c[key], int) and c[key] >= 1, f"{key}={c[key]!r} must be a positive integer")
  require(c.optim.lr > 0, f"optim.lr={c.optim.lr} must be positive")
  require(c.eval_batches >= 1, f"eval_batches={c.eval_batches} must be at least 1")
  policy = c.nonfinite.policy
  require(policy in ("halt", "skip"), f"nonfinite.policy={policy!r} must be 'halt' or 'skip'")
  require(c.nonfinite.patience >= 1, f"nonfinite.patience={c.nonfinite.patience} must be at least 1")
  require(len(c.mesh.shape) == 2, f"mesh.shape={c.mesh.shape} must be (data, model), e.g. (-1, 1)")


def lock(c):
  c.lock()
  return c


def char_rnn(arg, name):
  """Defaults of the char-level RNN language models; the config file sets the data source."""
  c = base()
  c.name = f"{name}:{arg}" if arg else name
  c.task = "char_rnn"
  c.data = dict(source="", path="", tfds_name="", tfds_key="text", val_fraction=0.1, seq_len=128)
  c.model = dict(cell="lstm", layers=2, embed=128, hidden=512, dropout=0.1)
  c.sample = dict(n=4, length=600, prompt="\n", temperature=0.8, top_k=0)
  c.batch_size = 64
  c.steps = 20_000
  if arg == "cpu":
    # About 10 minutes on a 2-core CPU (~12k chars/s, see BUILD_NOTES.md).
    c.model = dict(cell="lstm", layers=1, embed=64, hidden=384, dropout=0.0)
    c.data.seq_len = 64
    c.batch_size = 64
    c.steps = 1800
    c.optim.lr = 3e-3
    c.optim.warmup_steps = 100
    c.log_every, c.eval_every, c.sample_every, c.ckpt_every = 50, 300, 900, 300
    c.eval_batches = 40
  elif arg == "smoke":
    c.model = dict(cell="lstm", layers=1, embed=16, hidden=32, dropout=0.0)
    c.data.seq_len = 32
    c.batch_size = 16
    c.steps = 20
    c.optim.warmup_steps = 2
    c.log_every, c.eval_every, c.sample_every, c.ckpt_every = 5, 10, 20, 10
    c.eval_batches = 2
    c.sample.length = 40
  return c


def images(c, name, arg, task):
  """What the image tasks share: 28x28 MNIST by default, sample-quality settings."""
  c.name = f"{name}:{arg}" if arg else name
  c.task = task
  c.data = dict(source="mnist", path="mnist", tfds_name="", shape=(28, 28, 1), levels=256)
  c.eval_quality_samples = 10_000  # `genjax eval`: FID/KID/IS of this many samples against the test set
  c.eval_classifier_steps = 1500   # training steps of the cached domain classifier
  c.eval_quality_periodic = 2000   # FID/KID/IS on this many samples at every periodic eval (0: off)
  c.sample = dict(n=64, temperature=1.0)
  return c


def image_smoke(c, quality_periodic=100):
  """The :smoke settings every image task shares: 20 steps of 16 images, tiny evaluations."""
  c.steps, c.batch_size = 20, 16
  c.eval_quality_samples, c.eval_quality_periodic, c.eval_classifier_steps = 200, quality_periodic, 20
  c.sample.n = 4
  c.eval_batches = 2
  c.optim.warmup_steps = 2
  c.log_every, c.eval_every, c.sample_every, c.ckpt_every = 5, 10, 20, 10


def image_gan(arg, name):
  """Defaults of the DCGAN family on 28x28 images (the canonical dcgan at full size)."""
  c = images(base(), name, arg, "image_gan")
  c.model = dict(arch="dcgan", g_widths=(128, 64), d_widths=(64, 128), z=100, spectral_norm=False, d=32)
  c.gan = dict(loss="non_saturating", gp_weight=10.0, n_critic=1, ema=0.999)
  c.batch_size = 64
  c.optim.update(lr=2e-4, b1=0.5, b2=0.999, warmup_steps=0, decay="constant", clip_norm=0.0)
  c.steps = 30_000
  c.eval_batches = 10
  c.log_every, c.eval_every, c.sample_every, c.ckpt_every = 200, 5000, 2500, 5000
  if arg == "cpu":
    c.steps = 6000
    c.log_every, c.eval_every, c.sample_every, c.ckpt_every = 100, 1000, 1000, 1000
  elif arg == "smoke":
    c.model.update(g_widths=(8, 4), d_widths=(4, 8), z=8)
    image_smoke(c)
  return c


def pixel_rnn(arg, name):
  """Defaults of the row-LSTM pixel RNN on binarized 28x28 images."""
  c = images(base(), name, arg, "pixel_rnn")
  c.model = dict(cell="lstm", hidden=256, layers=1, head=512)
  c.batch_size = 64
  c.optim.update(lr=1e-3, warmup_steps=200, b2=0.999)
  c.steps = 30_000
  c.eval_batches = 10
  c.sample.n = 36
  c.log_every, c.eval_every, c.sample_every, c.ckpt_every = 200, 5000, 5000, 5000
  if arg == "cpu":
    c.steps = 3000
    c.log_every, c.eval_every, c.sample_every, c.ckpt_every = 100, 1000, 1000, 500
  elif arg == "smoke":
    c.model = dict(cell="lstm", hidden=16, layers=1, head=16)
    image_smoke(c, quality_periodic=0)
  return c


def image_vae(arg, name):
  """Defaults of the conv VAE on binarized 28x28 images (the canonical conv_vae at full size)."""
  c = images(base(), name, arg, "image_vae")
  c.model = dict(widths=(32, 64), latent=32)
  c.likelihood = "bernoulli"  # or 'logistic' / 'gaussian' (discretized, data.levels levels)
  c.kl_warmup_steps = 2000
  c.eval_iw_samples = 50      # periodic evaluation; `genjax eval --config.eval_iw_samples=1000` for the final
  c.batch_size = 128
  c.optim.update(lr=1e-3, warmup_steps=500, b2=0.999)
  c.steps = 50_000
  c.eval_batches = 10
  c.log_every, c.eval_every, c.sample_every, c.ckpt_every = 200, 5000, 5000, 5000
  if arg == "cpu":
    c.steps, c.kl_warmup_steps = 2000, 500
    c.log_every, c.eval_every, c.sample_every, c.ckpt_every = 100, 1000, 1000, 500
  elif arg == "smoke":
    c.model = dict(widths=(4, 8), latent=4)
    c.kl_warmup_steps, c.eval_iw_samples = 5, 4
    image_smoke(c)
  return c


def saved(config_json):
  """A run's saved config as a dict, with keys added to genjax since it was trained filled in from its
  family's defaults: old runs keep resuming, sampling and evaluating after an upgrade."""
  import json
  saved_dict = json.loads(config_json)
  family = FAMILIES.get(saved_dict.get("task"))
  if family is None:
    return saved_dict
  return _fill_missing(saved_dict, json.loads(family(None, saved_dict.get("name", "")).to_json_best_effort()))


def _fill_missing(have, defaults):
  out = dict(have)
  for key, value in defaults.items():
    if key not in out:
      out[key] = value
    elif isinstance(value, dict) and isinstance(out[key], dict):
      out[key] = _fill_missing(out[key], value)
  return out


FAMILIES = {"char_rnn": char_rnn, "image_vae": image_vae, "image_gan": image_gan, "pixel_rnn": pixel_rnn}

