"""Tasks: one per model family (autoregressive, VAE, GAN), each taking a modality (genjax/modalities/).
The trainer only sees their pure functions over pytrees.

A task class provides:
  check_config(config), load_data(config) -> Data   (the modality's sources, transforms and saved `meta`)
  Task(config, meta)                   builds the model, the optimizer and `modality`
  init(rng) -> state                   {params, opt_state, step, rng, ...}
  train_step(state, batch) -> (state, metrics)
  eval_step(state, batch) -> sums      summed over examples; `summarize(totals)` turns them into metrics
  sample(params, rng, **kw) -> samples  as `modality.write_samples` writes them
  quality(params, data, n, log)        the modality's sample-quality metrics ({} where it has none)
  PARAM_AXES                           (regex, logical axes) per parameter
"""

import importlib

from genjax.errors import UserError

REGISTRY = {"autoregressive": "genjax.tasks.autoregressive:AutoregressiveTask",
            "vae": "genjax.tasks.vae:VAETask", "gan": "genjax.tasks.gan:GANTask"}


def get(name):
  if name not in REGISTRY:
    raise UserError(f"unknown task {name!r}; known tasks: {sorted(REGISTRY)}")
  module, cls = REGISTRY[name].split(":")
  return getattr(importlib.import_module(module), cls)
