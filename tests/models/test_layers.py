"""The fast convolutions equal the plain formulations, forward and backward (second order for `conv`)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genjax.models import layers


@pytest.mark.parametrize("spatial,kernel,strides,cin,cout", [
    ((7, 7), (3, 3), (2, 2), 3, 5), ((5, 6), (4, 4), (2, 2), 3, 5), ((9,), (25,), (4,), 3, 5),
    ((8,), (4,), (3,), 3, 5),
    ((6, 5), (3, 3), (1, 1), 12, 1), ((5, 4), (4, 4), (2, 2), 16, 1)])  # narrow: matmul, then scatter
def test_conv_transpose_matches_nnx(spatial, kernel, strides, cin, cout):
  fast = layers.ConvTranspose(cin, cout, kernel, strides, rngs=nnx.Rngs(0))
  plain = nnx.ConvTranspose(cin, cout, kernel, strides=strides, padding="SAME", rngs=nnx.Rngs(1))
  plain.kernel[...] = fast.kernel[...]
  plain.bias[...] = fast.bias[...] = jax.random.normal(jax.random.key(3), (cout,))
  x = jax.random.normal(jax.random.key(2), (2, *spatial, cin))
  g = jax.random.normal(jax.random.key(4), plain(x).shape)

  def grads(module):
    graphdef, params = nnx.split(module)
    loss = lambda p, x: jnp.vdot(nnx.merge(graphdef, p)(x), g)
    return jax.jit(jax.grad(loss, argnums=(0, 1)))(params, x)  # one compile, not one per op

  np.testing.assert_allclose(fast(x), plain(x), rtol=1e-5, atol=1e-5)
  (pf, xf), (pp, xp) = grads(fast), grads(plain)
  np.testing.assert_allclose(xf, xp, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(pf["kernel"][...], pp["kernel"][...], rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(pf["bias"][...], pp["bias"][...], rtol=1e-4, atol=1e-4)


def _plain_conv(x, w, strides):
  dims = {3: ("NWC", "WIO", "NWC"), 4: ("NHWC", "HWIO", "NHWC")}[x.ndim]
  return jax.lax.conv_general_dilated(x, w, strides, "SAME", dimension_numbers=dims)


@pytest.mark.parametrize("spatial,kernel,strides", [
    ((7, 6), (4, 4), (2, 2)), ((10,), (4,), (3,))])
def test_conv_matches_lax_to_second_order(spatial, kernel, strides):
  """First and second derivatives (a gradient penalty's) equal plain autodiff of lax's convolution."""
  x = jax.random.normal(jax.random.key(0), (2, *spatial, 3))
  w = jax.random.normal(jax.random.key(1), (*kernel, 3, 4)) * 0.2

  def penalty(f):
    def critic(x, w):
      return jnp.sum(jnp.tanh(f(x, w, strides)) ** 2)
    return lambda x, w: jnp.sum(jax.grad(critic)(x, w) ** 2) + critic(x, w)

  np.testing.assert_allclose(layers.conv(x, w, strides), _plain_conv(x, w, strides), rtol=1e-5, atol=1e-5)
  got = jax.jit(jax.grad(penalty(layers.conv), argnums=(0, 1)))(x, w)
  want = jax.jit(jax.grad(penalty(_plain_conv), argnums=(0, 1)))(x, w)
  for a, b in zip(got, want):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4)
