"""Class conditioning, written once for the conditional models (`model.classes` > 0): a generator or decoder
reads its latent with the label's one-hot appended; a critic adds the projection of a learned class embedding
onto its features (the projection discriminator, Miyato & Koyama 2018), so real-but-wrong-class images score
low. With classes = 0 both are absent and the model is the unconditional one, parameter for parameter."""

import jax
import jax.numpy as jnp
from flax import nnx


def append_label(x, label, classes):
  """x [B, D] with one_hot(label, classes) appended, [B, D + classes]; x itself when classes = 0."""
  if not classes:
    return x
  return jnp.concatenate([x, jax.nn.one_hot(label, classes, dtype=x.dtype)], axis=-1)


class Projection(nnx.Module):
  """<embed(label), features> per example: the class-dependent part of a projection critic's output."""

  def __init__(self, classes, features, *, rngs):
    self.embed = nnx.Embed(classes, features, embedding_init=nnx.initializers.normal(0.02), rngs=rngs)

  def __call__(self, features, label):
    return (self.embed(label).astype(features.dtype) * features).sum(-1)
