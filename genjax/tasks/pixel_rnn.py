"""Autoregressive pixel RNN on binarized images: exact test NLL, comparable with the VAE's bound.

Trains with dynamic binarization and scores the same fixed binarization of the test set as the VAE, so the
two numbers (nats per image) sit side by side in BUILD_NOTES.md.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from genjax.config import require
from genjax.models import pixel_rnn, rnn
from genjax.tasks import common, image_common
from genjax.tasks.image_common import ImageOutputs, check_request, to_u8
from genjax.train import optim


class PixelRNNTask(ImageOutputs):
  PARAM_AXES = pixel_rnn.PARAM_AXES

  @staticmethod
  def check_config(config):
    m = config.model
    require(m.cell in rnn.CELLS, f"model.cell={m.cell!r} must be one of {sorted(rnn.CELLS)}")
    require(m.hidden >= 1 and m.layers >= 1 and m.head >= 1, f"model sizes {m.to_dict()} must be positive")
    require(len(config.data.shape) == 3, f"data.shape={config.data.shape} must be (height, width, channels)")

  @staticmethod
  def load_data(config):
    return image_common.load_data(config, binarize_eval=True)

  def __init__(self, config, meta):
    self.config = config
    self.shape = tuple(meta["shape"])
    m = config.model
    self.model = common.PureModel(lambda rngs: pixel_rnn.PixelRNN(
        self.shape, m.hidden, m.layers, m.head, m.cell, rngs=rngs))
    self.tx = optim.make(config.optim, config.steps)
    self._sample = jax.jit(lambda params, rng, t, n: self.model.bind(params).sample(rng, n, t), static_argnums=3)

  def init(self, rng):
    init_rng, state_rng = jax.random.split(rng)
    return common.new_state(self.model.init(init_rng), self.tx, state_rng)

  def _nll(self, params, x):
    """-log p(x) per image in nats: exact, a sum of per-pixel Bernoulli terms."""
    logits = self.model.bind(params)(x)
    return optax.sigmoid_binary_cross_entropy(logits, x).reshape(x.shape[0], -1).sum(-1)

  def train_step(self, state, batch):
    x = jax.random.bernoulli(common.step_rng(state), batch["image"]).astype(jnp.float32)  # dynamic
    loss, grads = jax.value_and_grad(lambda p: self._nll(p, x).mean())(state["params"])
    state = common.apply_gradients(state, grads, self.tx)
    return state, {"loss": loss, "grad_norm": optax.tree.norm(grads)}

  def eval_step(self, state, batch):
    w = batch["weight"]
    return {"nll": (self._nll(state["params"], batch["image"]) * w).sum(), "images": w.sum()}

  def summarize(self, totals):
    nll = totals["nll"] / totals["images"]
    return {"nll": nll, "bits_per_dim": nll / (float(np.prod(self.shape)) * math.log(2)),
            "images": totals["images"]}

  def sample(self, params, rng, n, temperature=1.0):
    """n binary images drawn pixel by pixel (logits divided by temperature), as uint8 [n, H, W, C]."""
    check_request(n, temperature)
    return to_u8(self._sample(params, rng, jnp.float32(temperature), n))
