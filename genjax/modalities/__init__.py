"""Modalities: what a family task needs to know about text, images or audio, written once each.

A modality turns batches into what a family's networks read (`signal` for GANs and VAEs, `tokens` and
`mask` for autoregressive models), turns their outputs back into samples (`decode_*`), writes samples
(.txt / .png / .wav), and scores them on its own domain classifier (`quality`). A family task receives one
and never branches on which it got.

A modality class provides:
  load_data(config) -> tasks.common.Data     sources, transforms and `meta` saved with the run
  transforms(config)                          (training, held-out) batch transforms
  check_config(config)                        its `data` keys
  Modality(config, meta)                      then: shape, signal(batch), tokens(batch), mask(batch),
                                              decode_signal(x), decode_tokens(ids), start_ids(prompt, n),
                                              write_samples(samples, stem), write_separate(samples, stem),
                                              quality(generate, data, n, log)
"""

import importlib

from genjax.errors import UserError

REGISTRY = {"text": "genjax.modalities.text:Text", "image": "genjax.modalities.image:Image",
            "audio": "genjax.modalities.audio:Audio"}


def load_data(config, binary=False):
  """The task's data: prepared shards where `data.prepared` names a folder, else the modality's own loader.
  `binary`: models of binary pixels score a binarized held-out split."""
  cls = get(config.modality)
  if config.data.get("prepared"):
    from genjax.data import prepared
    return prepared.load(config, cls.transforms(config), binary)
  return cls.load_data(config, binary=binary)


def get(name):
  if name not in REGISTRY:
    raise UserError(f"unknown modality {name!r}; set --config.modality to one of {sorted(REGISTRY)}")
  module, cls = REGISTRY[name].split(":")
  return getattr(importlib.import_module(module), cls)
