"""Image modality: uint8 [H, W, C] sources -> `image` float32 in [0, 1]; PNG grids; FID/KID/IS on genjax's
own digit classifier."""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image as PILImage

from genjax import files
from genjax.config import require
from genjax.data import image, images
from genjax.errors import UserError
from genjax.eval import classifier, sample_quality
from genjax.tasks import common

QUALITY_CHUNK = 4096  # images generated per call


class Image:
  name, unit, example = "image", "dim", "images"

  @staticmethod
  def check_config(config):
    require(len(config.data.shape) == 3, f"data.shape={config.data.shape} must be (height, width, channels)")

  @staticmethod
  def load_data(config, binary=False):
    """Train and test images; for models of binary pixels the held-out split is binarized once (seed 0)."""
    train, test = images.load(config.data)
    check_labels(config, train, test)
    shape = tuple(config.data.shape)
    meta = {"shape": list(shape), "train_images": len(train), "test_images": len(test), "binarized_eval": binary,
            "fingerprint": f"{config.data.source}:{config.data.path or config.data.tfds_name}:{len(train)}"}
    transform, eval_transform = Image.transforms(config)
    return common.Data(train=train, eval=images.fixed_binarization(test) if binary else test,
                       transform=transform, eval_transform=eval_transform, meta=meta, test=test)

  @staticmethod
  def transforms(config):
    """(training, held-out) batch transforms: uint8 -> [0, 1], the shape checked."""
    return image.transform(config.data.shape), image.transform(config.data.shape)

  def __init__(self, config, meta):
    self.config, self.shape = config, tuple(meta["shape"])

  @staticmethod
  def signal(batch):
    """Pixels in [-1, 1], [B, H, W, C]: what GAN networks read."""
    return batch["image"] * 2.0 - 1.0

  @staticmethod
  def binary(batch, rng=None):
    """Binary pixels: a fresh Bernoulli sample of each image with `rng` (dynamic binarization, training),
    else the batch as it is (the held-out split is binarized once at load)."""
    x = batch["image"]
    return x if rng is None else jax.random.bernoulli(rng, x).astype(jnp.float32)

  @staticmethod
  def decode_signal(x):
    """[-1, 1] -> uint8 images."""
    return to_u8((np.asarray(x) + 1.0) / 2.0)

  @staticmethod
  def check_request(n):
    if n < 1 or n > QUALITY_CHUNK:
      raise UserError(f"asked for {n} images; ask for 1 to {QUALITY_CHUNK} per call")

  def quality(self, generate, data, n=None, log=print):
    """FID/KID/IS of n samples `generate(rng, n[, labels])` (default `eval_quality_samples`) against the test set,
    on genjax's own classifier features, next to the real-data ceiling (test against train); for a
    class-conditional model the samples cycle through the classes and `label_accuracy` is the fraction the
    classifier assigns to the class they were generated for."""
    cfg = self.config
    n = n or cfg.eval_quality_samples
    if not (images.has_labels(data.train) and images.has_labels(data.test)):
      log("FID/KID/IS skipped: genjax's domain classifier needs labelled in-memory images (mnist, digits)")
      return {}
    train, test = images.labelled(data.train), images.labelled(data.test)
    name = f"{cfg.data.source}-{'x'.join(map(str, self.shape))}-{cfg.eval_classifier_steps}steps"
    clf = classifier.load_or_train(name, *train, *test, steps=cfg.eval_classifier_steps, log=log)
    classes = common.classes(cfg)
    labels = np.arange(n) % classes if classes else None

    def chunk(i):  # a conditional model's generate also takes the labels
      given = () if labels is None else (labels[i:i + QUALITY_CHUNK],)
      return generate(jax.random.PRNGKey(1000 + i), min(QUALITY_CHUNK, n - i), *given)
    fake = np.concatenate([chunk(i) for i in range(0, n, QUALITY_CHUNK)]).astype(np.float32) / 255.0
    return scores(clf, fake, test[0][:n], train[0][:n], n, labels)

  def write_samples(self, samples, stem):
    """A PNG grid at `stem`.png; returns its path."""
    return write_png(grid_image(samples), stem + ".png")

  def write_separate(self, samples, stem):
    """One PNG per image, `stem`/0000.png, ...; returns the folder."""
    for i, img in enumerate(samples):
      write_png(PILImage.fromarray(img[..., 0] if img.shape[-1] == 1 else img), os.path.join(stem, f"{i:04d}.png"))
    return stem

  @staticmethod
  def tensorboard(tb, step, samples):
    tb.add_images("samples", samples, step, dataformats="NHWC")


def scores(clf, fake, test, train, n, labels=None):
  """FID/KID/IS of `fake` against `test` on the classifier's features, and the real-data ceiling (test
  against train) beside them; every input is what the classifier reads. With the `labels` the fakes were
  generated for, also the classifier's accuracy on them; and the samples' class histogram against the test set's."""
  (f_fake, l_fake), (f_test, l_test) = clf(fake), clf(test)
  f_train, _ = clf(train)
  conditional = {} if labels is None else {"label_accuracy": float((np.argmax(l_fake, -1) == labels).mean())}
  return {**conditional, **sample_quality.class_balance(l_fake, l_test),
          "fid": sample_quality.fid(f_fake, f_test), "kid": sample_quality.kid(f_fake, f_test)[0],
          "inception_score": sample_quality.inception_score(l_fake)[0],
          "real_fid_test_vs_train": sample_quality.fid(f_test, f_train),
          "real_kid_test_vs_train": sample_quality.kid(f_test, f_train)[0],
          "real_inception_score": sample_quality.inception_score(l_test)[0],
          "classifier_test_accuracy": clf.accuracy, "quality_samples": n}


def check_labels(config, train, test):
  """A class-conditional config (model.classes > 0) needs every image labelled 0..classes-1."""
  classes = common.classes(config)
  if not classes:
    return
  for split, source in (("train", train), ("test", test)):
    if not images.has_labels(source):
      raise UserError(f"model.classes={classes} conditions on labels, and the {split} images of "
                      f"data.source={config.data.source!r} have none: use a labelled source (mnist, digits) or "
                      f"set model.classes=0")
    labels = source.arrays["label"]
    if labels.min() < 0 or labels.max() >= classes:
      raise UserError(f"model.classes={classes}, but the {split} labels span {labels.min()}..{labels.max()}: "
                      f"set model.classes to the number of classes")


def check_temperature(temperature):
  if not temperature > 0:
    raise UserError(f"temperature {temperature} must be positive (1.0 samples the prior)")


def write_png(img, path):
  """Written to a temporary name and renamed: a crash never leaves a partial PNG under the final name."""
  return files.write_atomic(path, lambda f: img.save(f, format="PNG"))


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
  return PILImage.fromarray(grid[..., 0] if c == 1 else grid)
