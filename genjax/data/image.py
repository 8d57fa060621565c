"""Image modality: uint8 [H, W, C] -> {"image": float32 in [0, 1], "label"?} (optionally binarized), shape checked."""

import numpy as np

from genjax.errors import UserError


def transform(shape, binarize=False):
  """A per-example map for grain: checks the shape, scales to [0, 1], binarizes at 0.5 if asked.

  Fixed threshold binarization keeps the map deterministic; dynamic binarization belongs in the train step.
  """
  shape = tuple(shape)

  def apply(example):
    image = np.asarray(example["image"])
    if image.shape != shape:
      raise UserError(f"image of shape {image.shape}, the config expects {shape}; set --config.data.shape "
                      f"or resize the data")
    x = image.astype(np.float32) / 255.0
    out = {"image": (x > 0.5).astype(np.float32) if binarize else x}
    if "label" in example:  # kept for conditional models; other features (TFDS string ids) are dropped
      out["label"] = np.int32(example["label"])
    return out

  return apply
