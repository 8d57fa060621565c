"""What the image generators share: PNG grids, and sample quality on genjax's own domain classifier."""

import math
import os

import jax
import numpy as np
from PIL import Image

from genjax.data import image, images
from genjax.errors import UserError
from genjax.eval import classifier, sample_quality
from genjax.tasks import common

QUALITY_CHUNK = 4096  # images sampled per call


def load_data(config, binarize_eval):
  """Train and test images; the held-out split binarized once (fixed, seed 0) for likelihood models."""
  train, test = images.load(config.data)
  shape = tuple(config.data.shape)
  meta = {"shape": list(shape), "train_images": len(train), "test_images": len(test),
          "fingerprint": f"{config.data.source}:{config.data.path or config.data.tfds_name}:{len(train)}"}
  return common.Data(train=train, eval=images.fixed_binarization(test) if binarize_eval else test,
                     transform=image.transform(shape), eval_transform=image.transform(shape), meta=meta, test=test)


class ImageOutputs:
  """Mixin for image tasks that define `config`, `shape` and `sample(params, rng, n, ...)` -> uint8."""

  def quality(self, params, data, n=None, log=print):
    """FID/KID/IS of n samples (default `eval_quality_samples`) against the test set, on genjax's own
    classifier features, next to the real-data ceiling (test against train) so the numbers can be read."""
    cfg = self.config
    n = n or cfg.eval_quality_samples
    if not (images.has_labels(data.train) and images.has_labels(data.test)):
      log("FID/KID/IS skipped: genjax's domain classifier needs labelled in-memory images (mnist, digits)")
      return {}
    train, test = images.labelled(data.train), images.labelled(data.test)
    name = f"{cfg.data.source}-{'x'.join(map(str, self.shape))}-{cfg.eval_classifier_steps}steps"
    clf = classifier.load_or_train(name, *train, *test, steps=cfg.eval_classifier_steps, log=log)
    fake = np.concatenate([self.sample(params, jax.random.PRNGKey(1000 + i), min(QUALITY_CHUNK, n - i))
                           for i in range(0, n, QUALITY_CHUNK)]).astype(np.float32) / 255.0
    (f_fake, l_fake), (f_test, l_test) = clf(fake), clf(test[0][:n])
    f_train, _ = clf(train[0][:n])
    return {"fid": sample_quality.fid(f_fake, f_test), "kid": sample_quality.kid(f_fake, f_test)[0],
            "inception_score": sample_quality.inception_score(l_fake)[0],
            "real_fid_test_vs_train": sample_quality.fid(f_test, f_train),
            "real_kid_test_vs_train": sample_quality.kid(f_test, f_train)[0],
            "real_inception_score": sample_quality.inception_score(l_test)[0],
            "classifier_test_accuracy": clf.accuracy, "quality_samples": n}

  def write_samples(self, samples, stem):
    """A PNG grid at `stem`.png; returns its path."""
    return write_png(grid_image(samples), stem + ".png")

  def write_images(self, samples, stem):
    """One PNG per image, `stem`/0000.png, ...; returns the folder."""
    for i, img in enumerate(samples):
      write_png(Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img), os.path.join(stem, f"{i:04d}.png"))
    return stem


def check_request(n, temperature):
  if n < 1 or n > QUALITY_CHUNK:
    raise UserError(f"asked for {n} images; ask for 1 to {QUALITY_CHUNK} per call")
  if not temperature > 0:
    raise UserError(f"temperature {temperature} must be positive (1.0 samples the prior)")


def write_png(image, path):
  """Written to a temporary name and renamed: a crash never leaves a partial PNG under the final name."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  image.save(path + ".tmp", format="PNG")
  os.replace(path + ".tmp", path)
  return path


def to_u8(x):
  """Floats in [0, 1] -> uint8."""
  return (np.clip(np.asarray(x), 0.0, 1.0) * 255).round().astype(np.uint8)


def grid_image(images_u8, pad=2, cols=None):
  """uint8 [n, H, W, C] -> one PIL image: `cols` wide, or as square a grid as n allows."""
  n, h, w, c = images_u8.shape
  cols = cols or math.ceil(math.sqrt(n))
  rows = math.ceil(n / cols)
  grid = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad, c), np.uint8)
  for i, img in enumerate(images_u8):
    r, q = divmod(i, cols)
    grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = img
  return Image.fromarray(grid[..., 0] if c == 1 else grid)
