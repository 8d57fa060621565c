"""remat: each recurrent layer and conv block under jax.checkpoint with a named policy keeps less for the
backward pass (the residuals jax.vjp holds), gives the same gradients, and a bad policy name is refused."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genjax import config as genjax_config
from genjax.errors import UserError
from genjax.models import conv_vae, dcgan, rnn, text_gan, wavegan
from tests.tasks.smoke_cli import config

MODELS = {  # a small network of each kind that remat wraps, and an input for it
    "char_rnn": (lambda remat: rnn.CharRNN(11, 8, 16, 2, "lstm", remat=remat, rngs=nnx.Rngs(0)),
                 lambda: jnp.arange(4 * 12).reshape(4, 12) % 11),
    "gru": (lambda remat: rnn.CharRNN(11, 8, 16, 2, "gru", remat=remat, rngs=nnx.Rngs(0)),
            lambda: jnp.arange(4 * 12).reshape(4, 12) % 11),
    "conv_vae_decoder": (lambda remat: conv_vae.ConvVAE((8, 8, 1), (4, 8), 3, remat=remat, rngs=nnx.Rngs(0)).decoder,
                         lambda: jnp.linspace(-1, 1, 4 * 3).reshape(4, 3)),
    "dcgan_critic": (lambda remat: dcgan.DCGAN((8, 8, 1), (8, 4), (4, 8), 5, True, remat=remat,
                                               rngs=nnx.Rngs(0)).d,
                     lambda: jnp.linspace(-1, 1, 4 * 64).reshape(4, 8, 8, 1)),
    "wavegan_generator": (lambda remat: wavegan.WaveGAN(1024, 2, 5, remat=remat, rngs=nnx.Rngs(0)).g,
                          lambda: jnp.linspace(-1, 1, 4 * 5).reshape(4, 5)),
    "text_gan_critic": (lambda remat: text_gan.TextGAN(8, 6, 8, 4, 2, remat=remat, rngs=nnx.Rngs(0)).d,
                        lambda: jax.nn.softmax(jnp.linspace(-1, 1, 4 * 8 * 6).reshape(4, 8, 6))),
}


def grads_and_residual_bytes(name, remat):
  """The parameter gradient of a scalar of the network's output, and the bytes jax.vjp keeps for it."""
  make, inputs = MODELS[name]
  graph, params, rest = nnx.split(make(remat), nnx.Param, ...)
  x = inputs()

  def scalar(p):
    out = nnx.merge(graph, p, rest)(x)
    out = out[0] if isinstance(out, tuple) else out
    return jnp.sum(jnp.sin(out))
  _, vjp = jax.vjp(scalar, params)
  saved = sum(a.nbytes for a in jax.tree.leaves(vjp)) - sum(a.nbytes for a in jax.tree.leaves(params))
  return jax.grad(scalar)(params), saved


@pytest.mark.parametrize("name", MODELS)
def test_remat_keeps_less_for_the_backward_pass_and_gives_the_same_gradients(name):
  """nothing_saveable keeps only each block's input; dots_saveable also keeps matmul and convolution outputs
  (more than no remat at all for the RNNs, whose scan's own residuals are not dots: BUILD_NOTES.md)."""
  grads, kept = grads_and_residual_bytes(name, "none")
  for policy in ("nothing_saveable", "dots_saveable"):
    remat_grads, remat_kept = grads_and_residual_bytes(name, policy)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), grads, remat_grads)
    if policy == "nothing_saveable":
      assert remat_kept < kept, (remat_kept, kept)


def test_a_train_step_carries_the_recomputation_behind_optimization_barriers():
  """What XLA receives: with remat the lowered step has a barrier per rematerialized block. (XLA's CPU
  pipeline removes the barriers and merges the recomputation back, see BUILD_NOTES.md; GPU and TPU keep it.)"""
  from tests.tasks.test_precision import task_and_batches
  counts = {}
  for policy in ("none", "nothing_saveable"):
    task, batches = task_and_batches("vae", remat=policy)
    lowered = jax.jit(task.train_step).lower(task.init(jax.random.PRNGKey(0)), batches[0]).as_text()
    counts[policy] = lowered.count("optimization_barrier")
  assert counts["none"] == 0 and counts["nothing_saveable"] >= 2, counts


def test_an_unknown_remat_policy_names_the_choices():
  with pytest.raises(UserError, match=r"remat='full' must be 'none' or a jax.checkpoint policy: nothing_saveable, "
                                      r"dots_saveable"):
    genjax_config.check(config("vae_mnist", remat="full"))
