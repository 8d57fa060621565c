"""Image modality: uint8 [B, H, W, C] -> {"image": float32 in [0, 1], "label"?} (optionally binarized), shape
checked."""

import numpy as np

from genjax.errors import UserError


def transform(shape, binarize=False):
  """A batch transform: checks the shape, scales to [0, 1], binarizes at 0.5 if asked.

  Fixed threshold binarization keeps the map deterministic; dynamic binarization belongs in the train step.
  """
  shape = tuple(shape)

  def apply(batch, rng=None):
    del rng
    images = np.asarray(batch["image"])
    if images.shape[1:] != shape:
      raise UserError(f"images of shape {images.shape[1:]}, the config expects {shape}; set --config.data.shape "
                      f"or resize the data")
    x = images.astype(np.float32) / 255.0
    out = {"image": (x > 0.5).astype(np.float32) if binarize else x}
    if "label" in batch:  # kept for conditional models; other features (TFDS string ids) are dropped
      out["label"] = np.asarray(batch["label"], np.int32)
    return out

  return apply
