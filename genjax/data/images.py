"""Image datasets for the image tasks: (train, test) random-access sources of uint8 [H, W, C] images."""

import numpy as np

from genjax.data import pipeline, sources
from genjax.errors import UserError


SOURCES = ("mnist", "digits", "folder", "tfds")


def load(data_cfg):
  if data_cfg.source == "mnist":
    return sources.mnist(data_cfg.path, "train"), sources.mnist(data_cfg.path, "test")
  if data_cfg.source == "digits":
    return sources.digits(data_cfg.path, "train"), sources.digits(data_cfg.path, "test")
  if data_cfg.source == "folder":
    return sources.image_folder(data_cfg.path, "train"), sources.image_folder(data_cfg.path, "test")
  if data_cfg.source == "tfds":
    return sources.tfds_source(data_cfg.tfds_name, "train"), sources.tfds_source(data_cfg.tfds_name, "test")
  raise UserError(f"unknown image source {data_cfg.source!r}; set --config.data.source to one of {SOURCES}")


def fixed_binarization(source, seed=0):
  """A Bernoulli sample of every image, drawn once with `seed`: the standard binarized test set (labels kept)."""
  arrays = pipeline.read(source, np.arange(len(source)))
  images = arrays["image"].astype(np.float32) / 255.0
  binary = (np.random.default_rng(seed).random(images.shape) < images).astype(np.uint8) * 255
  return sources.ArraySource({"image": binary, **({"label": arrays["label"]} if "label" in arrays else {})})


def has_labels(source):
  return "label" in (getattr(source, "arrays", None) or {})


def labelled(source):
  """(images float32 in [0, 1] [N, H, W, C], labels int32 [N]) of an in-memory source (for the classifier)."""
  arrays = getattr(source, "arrays", None)
  if arrays is None or "label" not in arrays:
    raise UserError("sample-quality metrics need a labelled in-memory image source (MNIST); this one has none")
  return arrays["image"].astype(np.float32) / 255.0, arrays["label"]
