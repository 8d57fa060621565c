"""The domain classifier behind FID/KID/IS: a small CNN genjax trains itself on the real training images.

Trained on first use and cached (GENJAX_CACHE_DIR, default ~/.cache/genjax) under a name that includes the
data fingerprint, with its test accuracy beside it, so every later evaluation reuses the same features.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from genjax import files
from genjax.tasks import common


class DigitCNN(nnx.Module):
  """conv 32 s2 -> conv 64 s2 -> dense 128 (the features) -> dense classes (the logits)."""

  def __init__(self, shape, classes=10, *, rngs):
    h, w, c = shape
    self.conv0 = nnx.Conv(c, 32, (3, 3), strides=2, padding="SAME", rngs=rngs)
    self.conv1 = nnx.Conv(32, 64, (3, 3), strides=2, padding="SAME", rngs=rngs)
    self.hidden = nnx.Linear(-(-h // 4) * -(-w // 4) * 64, 128, rngs=rngs)
    self.out = nnx.Linear(128, classes, rngs=rngs)

  def __call__(self, x):
    x = jax.nn.relu(self.conv1(jax.nn.relu(self.conv0(x))))
    feats = jax.nn.relu(self.hidden(x.reshape(x.shape[0], -1)))
    return feats, self.out(feats)


def cache_dir():
  return files.cache_dir("classifiers")


class Classifier:
  """Features and logits of images in [0, 1], [N, H, W, C], batched."""

  def __init__(self, shape, params, accuracy):
    self.model = common.PureModel(lambda rngs: DigitCNN(tuple(shape), rngs=rngs))
    self.params, self.accuracy = params, accuracy
    self._apply = jax.jit(lambda p, x: self.model.bind(p)(x))

  def __call__(self, images, batch=1000):
    feats, logits = zip(*(jax.device_get(self._apply(self.params, jnp.asarray(images[i:i + batch], jnp.float32)))
                          for i in range(0, len(images), batch)))
    return np.concatenate(feats), np.concatenate(logits)


def train(train_images, train_labels, test_images, test_labels, steps=1500, batch=128, seed=0):
  """Adam on the real training images; returns (params, test accuracy)."""
  shape = train_images.shape[1:]
  model = common.PureModel(lambda rngs: DigitCNN(shape, rngs=rngs))
  tx = optax.adam(1e-3)
  params = model.init(jax.random.PRNGKey(seed))
  opt = tx.init(params)

  @jax.jit
  def step(params, opt, x, y):
    loss = lambda p: optax.softmax_cross_entropy_with_integer_labels(model.bind(p)(x)[1], y).mean()  # noqa: E731
    grads = jax.grad(loss)(params)
    updates, opt = tx.update(grads, opt)
    return optax.apply_updates(params, updates), opt

  rng = np.random.default_rng(seed)
  for _ in range(steps):
    idx = rng.integers(0, len(train_images), batch)
    params, opt = step(params, opt, jnp.asarray(train_images[idx]), jnp.asarray(train_labels[idx]))
  _, logits = Classifier(shape, params, None)(test_images)
  return params, float((logits.argmax(1) == test_labels).mean())


def load_or_train(name, train_images, train_labels, test_images, test_labels, steps=1500, log=print):
  """The cached classifier `name`, training and caching it first if there is none."""
  def fit():
    params, accuracy = train(train_images, train_labels, test_images, test_labels, steps=steps)
    log(f"{name} classifier test accuracy {accuracy:.4f}")
    return params, {"test_accuracy": accuracy}
  params, info = cached(name, fit, "domain classifier for FID/KID/IS", log)
  return Classifier(train_images.shape[1:], params, info["test_accuracy"])


def cached(name, fit, what, log=print):
  """(params, info) of the model cached as `name`; `fit()` -> (params, info) trains it first if there is none."""
  path = cache_dir() / f"{name}.npz"
  if path.exists():
    stored = np.load(path)
    return _unflatten({k: stored[k] for k in stored.files}), json.loads(path.with_suffix(".json").read_text())
  log(f"training the {name} {what} (once; cached in {path.parent})")
  params, info = fit()
  path.parent.mkdir(parents=True, exist_ok=True)
  path.with_suffix(".json").write_text(json.dumps(info))
  files.write_atomic(path, lambda f: np.savez(f, **_flatten(params)))  # the .npz marks the cache as valid
  return params, info


def _flatten(tree, prefix=""):
  out = {}
  for k, v in tree.items():
    if isinstance(v, dict):
      out.update(_flatten(v, f"{prefix}{k}/"))
    else:
      out[f"{prefix}{k}"] = np.asarray(v)
  return out


def _unflatten(flat):
  tree = {}
  for key, value in flat.items():
    node = tree
    *parents, leaf = key.split("/")
    for p in parents:
      node = node.setdefault(p, {})
    node[leaf] = jnp.asarray(value)
  return tree
