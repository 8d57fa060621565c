"""Shared config defaults and helpers for configs/*.py.

Every config file starts from `experiment(name, arg, family, modality)`: the keys every run has, the
family's defaults (model, losses, sampling) and the modality's (data). The file itself then sets what
defines its experiment per variant (model widths, optimizer, steps, intervals), so it reads as the recipe,
and returns it locked (`lock()`), so that a typo on the command line is an error with a suggestion.
"""

import ml_collections

from genjax.errors import UserError

VARIANTS = (None, "smoke", "cpu")
PRECISIONS = {"f32": None, "bf16": "bfloat16"}  # the models' compute dtype (None: that of the parameters)
# jax.checkpoint_policies a run may name as `remat` (models/layers.remat), or "none".
REMAT_POLICIES = ("nothing_saveable", "dots_saveable", "dots_with_no_batch_dims_saveable", "everything_saveable")

# Logical axis -> mesh axis. Parameters name logical axes (see each model's PARAM_AXES); the mesh has
# ('data', 'model'). Data parallel by default; 'hidden' goes to 'model' when the mesh gives it devices.
DEFAULT_RULES = (("batch", "data"), ("vocab", None), ("embed", None), ("hidden", "model"))


def check_variant(arg):
  if arg not in VARIANTS:
    raise ValueError(f"unknown config variant {arg!r}; choose one of :smoke, :cpu or none")
  return arg


def base():
  """Keys every run has; the family adds `model` (and its own sections), the modality `data`."""
  c = ml_collections.ConfigDict()
  c.name = ""                 # config file and variant, recorded with the run
  c.task = ""                 # the family: autoregressive, vae or gan
  c.modality = ""             # text, image or audio
  c.seed = 0
  c.steps = 10_000
  c.batch_size = 64           # global, across all devices and processes
  c.optim = dict(lr=2e-3, warmup_steps=200, decay="cosine", end_lr_frac=0.1, b1=0.9, b2=0.99,
                 weight_decay=0.0, clip_norm=1.0)
  c.mesh = dict(shape=(-1, 1))  # ('data', 'model'); -1 takes the remaining devices
  c.rules = DEFAULT_RULES
  c.fsdp = False              # also split parameters and optimizer state over 'data' (train/sharding.py)
  c.grad_accum = 1            # micro-batches per step, summed in one scan: memory of batch_size / grad_accum
  c.precision = "f32"         # 'bf16': matmuls and convolutions in bfloat16; parameters, optimizer, losses float32
  c.remat = "none"            # a jax.checkpoint policy for each recurrent layer and conv block: memory for compute
  c.log_every = 100
  c.eval_every = 1000
  c.eval_batches = 50         # periodic eval; `genjax eval` always uses the whole held-out split
  c.sample_every = 1000
  c.ckpt_every = 1000
  c.keep_ckpts = 3
  c.data_threads = 1          # threads computing batches ahead (pipeline.Prefetch); 2 gain ~20% on image/text here
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
  require(isinstance(c.fsdp, bool), f"fsdp={c.fsdp!r} must be True or False")
  require(isinstance(c.grad_accum, int) and c.grad_accum >= 1 and c.batch_size % c.grad_accum == 0,
          f"grad_accum={c.grad_accum!r} must be a positive integer dividing batch_size={c.batch_size}")
  require(c.precision in PRECISIONS, f"precision={c.precision!r} must be one of {sorted(PRECISIONS)}")
  require(c.remat in ("none", *REMAT_POLICIES), f"remat={c.remat!r} must be 'none' or a jax.checkpoint policy: "
          f"{', '.join(REMAT_POLICIES)}")


def compute_dtype(c):
  """The dtype models compute in (`precision`; runs saved before it existed are float32)."""
  return PRECISIONS[c.get("precision", "f32")]


def remat_policy(c):
  """The `remat` policy name (runs saved before it existed: 'none')."""
  return c.get("remat", "none")


def lock(c):
  c.lock()
  return c


def experiment(name, arg, task, modality):
  """The shared keys plus the family's and the modality's defaults; a config file then sets its recipe."""
  c = base()
  c.name = f"{name}:{arg}" if arg else name
  c.task, c.modality = task, modality
  FAMILIES[task](c)
  MODALITIES[modality](c)
  return c


def conditional_variant(c, arg):
  """A benchmark's variants: none, or `:cond`, the same model conditioned on 10 classes."""
  require(arg in (None, "cond"), f"unknown variant {arg!r} of {c.name.split(':')[0]}; use none or :cond (10 classes)")
  c.model.classes = 10 if arg == "cond" else 0


def autoregressive(c):
  """Teacher-forced likelihood models: an LSTM/GRU over tokens ('char_rnn') or a row LSTM ('pixel_rnn')."""
  c.model = dict(arch="char_rnn", cell="lstm", layers=1, embed=64, hidden=256, dropout=0.0, head=512)
  c.sample = dict(n=4, temperature=1.0)  # token models add length, prompt (text) and top_k


def vae(c):
  """VAE family: model.arch 'conv_vae' with likelihood 'bernoulli' (binary pixels, dynamically binarized in
  training), 'logistic' or 'gaussian' (discretized over data.levels), or 'sentence_vae' (text lines, likelihood
  'categorical'); KL weight warmed up over kl_warmup_steps ('linear' or Bowman's 'logistic' schedule), free
  bits per latent dimension as an option; the IWAE bound at evaluation, and in training with
  train_iw_samples > 1."""
  c.model = dict(arch="conv_vae", widths=(32, 64), latent=32, classes=0)  # classes > 0: conditional on labels
  c.likelihood = "bernoulli"
  c.kl_warmup_steps = 2000
  c.kl_schedule = "linear"
  c.free_bits = 0.0           # nats per latent dimension below which the KL is not pushed down (0: off)
  c.train_iw_samples = 1      # 1: the ELBO; k > 1: the k-sample IWAE bound (k decoder passes per image)
  c.eval_iw_samples = 50      # periodic evaluation; `genjax eval --config.eval_iw_samples=1000` for the final
  c.eval_decode_batch = 512   # decodings per pass of the IWAE bound's loop: fits a CPU's cache; raise on accelerators
  c.sample = dict(n=64, temperature=1.0, label=-1)  # label: a conditional model's class (-1: each in turn)


def gan(c):
  """GAN family: loss non_saturating / hinge / wgan_gp, n_critic, EMA generator; Adam (0.5, 0.999), no decay.
  gan.d_lr > 0 gives the critic its own learning rate (TTUR, Heusel et al. 2017); optim.lr stays the generator's.
  gan.r1 > 0 adds R1's penalty, r1 / 2 times the critic's squared input gradient on real data (Mescheder et al.
  2018), to the non-saturating or hinge loss; gan.r1_every = k applies it every k-th step at k times the weight
  (lazy regularization, Karras et al. 2020): ~1.2x faster steps on 2 CPU cores, but at k=16 a worse DCGAN
  FID on MNIST per step and per minute (BUILD_NOTES), so the shipped configs keep k=1.
  model.arch: 'dcgan' (images), 'wavegan' (audio, width d) or 'text_gan' (text lines, width d, `blocks`
  residual blocks)."""
  c.model = dict(arch="dcgan", g_widths=(128, 64), d_widths=(64, 128), z=100, spectral_norm=False, d=32,
                 phase_shuffle=0, blocks=5, classes=0)  # classes > 0: a class-conditional DCGAN
  c.gan = dict(loss="non_saturating", gp_weight=10.0, r1=0.0, r1_every=1, n_critic=1, ema=0.999, d_lr=0.0)
  c.optim.update(lr=2e-4, b1=0.5, b2=0.999, warmup_steps=0, decay="constant", clip_norm=0.0)
  c.sample = dict(n=64, temperature=1.0, label=-1)  # label: a conditional model's class (-1: each in turn)


def text_data(c):
  """Units 'window' (seq_len + 1 consecutive characters) or 'line' (each non-empty line, at most seq_len
  characters: longer ones refused, truncated or dropped per long_lines); `titles` keeps Tang poem titles.
  Sample quality: n-gram JSD and the judge char-LSTM (trained eval_classifier_steps steps, cached); periodic
  scoring is off by default (a text config turns it on)."""
  c.data = dict(source="", path="", tfds_name="", tfds_key="text", val_fraction=0.1, seq_len=128, unit="window",
                long_lines="refuse", titles=True, prepared="")
  quality_defaults(c)
  c.eval_quality_periodic = 0


def image_data(c):
  """28x28 MNIST by default, and the sample-quality settings of genjax's digit classifier."""
  c.data = dict(source="mnist", path="mnist", tfds_name="", shape=(28, 28, 1), levels=256, prepared="")
  quality_defaults(c)


def audio_data(c):
  """FSDD at 8 kHz: fixed-length clips (random crop in training, centre crop for evaluation, zero padding
  with a mask of the real samples), peak-normalized; labels are the spoken digits."""
  c.data = dict(source="wav_folder", path="fsdd", tfds_name="", manifest="MANIFEST.tsv", rate=8000, length=8192,
                eval_length=0, normalize="peak", on_rate_mismatch="resample", stereo="downmix", on_bad="error",
                prepared="")
  quality_defaults(c)
  c.eval_quality_samples = 1000


def quality_defaults(c):
  c.eval_quality_samples = 10_000  # `genjax eval`: FID/KID/IS of this many samples against the test set
  c.eval_classifier_steps = 1500   # training steps of the cached domain classifier
  c.eval_quality_periodic = 2000   # FID/KID/IS on this many samples at every periodic eval (0: off)


def intervals(c, log, evaluate, sample, ckpt):
  c.log_every, c.eval_every, c.sample_every, c.ckpt_every = log, evaluate, sample, ckpt


def smoke(c):
  """What every :smoke variant shares: 20 steps, an evaluation and a checkpoint every 10, tiny evaluations."""
  c.steps = 20
  c.optim.warmup_steps = 2
  intervals(c, 5, 10, 20, 10)
  c.eval_batches = 2
  if "eval_quality_samples" in c:
    c.eval_quality_samples, c.eval_quality_periodic = 200, 100 if c.eval_quality_periodic else 0
    c.eval_classifier_steps = SMOKE_CLASSIFIER_STEPS[c.modality]


# Enough for the smoke classifier to tell digits apart: MNIST 20 steps; FSDD log-mels 100 (test accuracy 0.93;
# 20 steps hear nothing, 0.42); the text judge 20 (a smoke run's scores only need to exist). Trained once per cache, so every smoke run of a modality shares it.
SMOKE_CLASSIFIER_STEPS = {"image": 20, "audio": 100, "text": 20}


# Runs saved when each (family x modality) cell was a task of its own: (family, modality, model.arch).
LEGACY_TASKS = {"char_rnn": ("autoregressive", "text", "char_rnn"), "pixel_rnn": ("autoregressive", "image",
                "pixel_rnn"), "image_vae": ("vae", "image", None), "image_gan": ("gan", "image", None)}


def load_file(path):
  """The config file at `path` as a module (its `get_config(arg)` builds the config)."""
  import importlib.util
  import pathlib
  spec = importlib.util.spec_from_file_location(f"genjax_configs.{pathlib.Path(path).stem}", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def sibling(config_file, name):
  """The config module `name`.py beside `config_file`: configs that share a recipe import it from there."""
  import pathlib
  return load_file(pathlib.Path(config_file).with_name(f"{name}.py"))


def saved(config_json):
  """A run's saved config as a dict, with keys added to genjax since it was trained filled in from its
  family's and modality's defaults, and old per-cell task names read as (family, modality): old runs keep
  resuming, sampling and evaluating after an upgrade."""
  import json
  saved_dict = json.loads(config_json)
  if saved_dict.get("task") in LEGACY_TASKS:
    family, modality, arch = LEGACY_TASKS[saved_dict["task"]]
    saved_dict = dict(saved_dict, task=family, modality=modality)
    if arch:
      saved_dict["model"] = dict(saved_dict.get("model", {}), arch=arch)
  if saved_dict.get("task") not in FAMILIES or saved_dict.get("modality") not in MODALITIES:
    return saved_dict
  defaults = experiment(saved_dict.get("name", ""), None, saved_dict["task"], saved_dict["modality"])
  return _fill_missing(saved_dict, json.loads(defaults.to_json_best_effort()))


def _fill_missing(have, defaults):
  out = dict(have)
  for key, value in defaults.items():
    if key not in out:
      out[key] = value
    elif isinstance(value, dict) and isinstance(out[key], dict):
      out[key] = _fill_missing(out[key], value)
  return out


FAMILIES = {"autoregressive": autoregressive, "vae": vae, "gan": gan}
MODALITIES = {"text": text_data, "image": image_data, "audio": audio_data}

