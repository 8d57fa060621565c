"""Tasks: one per (model family x modality). The trainer only sees their pure functions over pytrees.

A task class provides:
  load_data(config) -> Data            sources, transforms, and `meta` (e.g. the vocabulary) saved with the run
  Task(config, meta)                   builds the model and optimizer
  init(rng) -> state                   {params, opt_state, step, rng}
  train_step(state, batch) -> (state, metrics)
  eval_step(state, batch) -> sums      summed over examples; `summarize(totals)` turns them into metrics
  sample(state, rng, **kw) -> numpy    and `write_samples(...)` / `decode(...)` for the modality
  PARAM_AXES                           (regex, logical axes) per parameter
"""

import importlib

from genjax.errors import UserError

REGISTRY = {"char_rnn": "genjax.tasks.char_rnn:CharRNNTask", "image_vae": "genjax.tasks.image_vae:ImageVAETask",
            "image_gan": "genjax.tasks.image_gan:ImageGANTask", "pixel_rnn": "genjax.tasks.pixel_rnn:PixelRNNTask"}


def get(name):
  if name not in REGISTRY:
    raise UserError(f"unknown task {name!r}; known tasks: {sorted(REGISTRY)}")
  module, cls = REGISTRY[name].split(":")
  return getattr(importlib.import_module(module), cls)
