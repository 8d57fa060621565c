"""Layers whose default XLA lowering is slow on CPU, written so that every pass is a fast op.

A strided transposed convolution differentiates, under plain autodiff, into a kernel gradient that XLA's CPU
backend lowers to a generic window-dilated convolution running near 1 GFLOP/s: 80% of the conv VAE step and
most of the DCGAN generator's. `conv_transpose` keeps the forward of `lax.conv_transpose` (so numbers equal
`nnx.ConvTranspose`) and supplies its own backward: the input gradient is the ordinary strided convolution,
the kernel gradient is k^d strided slices of the output gradient contracted with the input in one einsum.
Measured in BUILD_NOTES.md (one 14x14 -> 28x28 layer: 441 ms -> 27 ms forward+backward).
"""

import functools
import itertools

import jax
import jax.numpy as jnp
from flax import nnx
from jax import lax

SPATIAL = {1: "W", 2: "HW", 3: "DHW"}


def _numbers(ndim):
  s = SPATIAL[ndim - 2]
  return (f"N{s}C", f"{s}IO", f"N{s}C")


def _same_padding(k, s):
  """The low padding lax.conv_transpose uses for 'SAME' (jax's _conv_transpose_padding)."""
  pad_len = k + s - 2
  return k - 1 if s > k - 1 else -(-pad_len // 2)


def _plain(x, w, strides):
  return lax.conv_transpose(x, w, strides, "SAME", dimension_numbers=_numbers(x.ndim))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv_transpose(x, w, strides):
  """'SAME' transposed convolution, channels last; w is [*kernel, in, out] as in nnx.ConvTranspose."""
  return _plain(x, w, strides)


def _forward(x, w, strides):
  return _plain(x, w, strides), (x, w)


def _kernel_grad(x, g, kernel, strides):
  """dW[a] = sum_u x[u] g[s*u + pad - a]: for each kernel offset one strided slice of g, then one einsum."""
  spatial_in, spatial_out = x.shape[1:-1], g.shape[1:-1]
  pads = [(0, 0, 0)]
  for k, s, u, h in zip(kernel, strides, spatial_in, spatial_out):
    left = k - 1 - _same_padding(k, s)
    pads.append((left, (u - 1) * s + k - h - left, 0))
  gp = lax.pad(g, jnp.zeros((), g.dtype), pads + [(0, 0, 0)])
  slices = []
  for offset in itertools.product(*map(range, kernel)):
    start = (0, *offset, 0)
    limit = (g.shape[0], *((o + (u - 1) * s + 1) for o, u, s in zip(offset, spatial_in, strides)), g.shape[-1])
    slices.append(lax.slice(gp, start, limit, (1, *strides, 1)))
  stacked = jnp.stack(slices).reshape(*kernel, *slices[0].shape)
  letters = "nuvw"[: 1 + len(kernel)]
  dw = jnp.einsum(f"{letters}i,...{letters}o->...io", x, stacked)
  return jnp.flip(dw, axis=tuple(range(len(kernel))))  # slices ran over k-1-a


def _backward(strides, res, g):
  x, w = res
  _, input_vjp = jax.vjp(lambda x: _plain(x, w, strides), x)  # the ordinary strided convolution
  (dx,) = input_vjp(g)
  return dx, _kernel_grad(x, g, w.shape[:-2], strides)


conv_transpose.defvjp(_forward, _backward)


class ConvTranspose(nnx.Module):
  """Drop-in for nnx.ConvTranspose(padding='SAME') with the same parameters ('kernel', 'bias') and outputs."""

  def __init__(self, in_features, out_features, kernel_size, strides, *, rngs):
    self.strides = tuple(strides)
    init = nnx.initializers.lecun_normal()
    self.kernel = nnx.Param(init(rngs.params(), (*kernel_size, in_features, out_features)))
    self.bias = nnx.Param(jnp.zeros((out_features,)))

  def __call__(self, x):
    return conv_transpose(x, self.kernel[...], self.strides) + self.bias[...]


class BatchNorm(nnx.Module):
  """Normalizes by the statistics of the batch at hand, in training and sampling alike (as DCGAN's reference
  generator does); no running averages, so an EMA of the weights needs no matching statistics."""

  def __init__(self, features, eps=1e-5):
    self.scale, self.bias, self.eps = nnx.Param(jnp.ones((features,))), nnx.Param(jnp.zeros((features,))), eps

  def __call__(self, x):
    axes = tuple(range(x.ndim - 1))
    mean, var = x.mean(axes), x.var(axes)
    return (x - mean) * lax.rsqrt(var + self.eps) * self.scale[...] + self.bias[...]


class SpectralVector(nnx.Variable):
  """The power-iteration vector of a spectrally normalized weight: model state, not trained."""


def spectral_normalize(w, u):
  """(w / sigma(w), next u) with one power iteration; w is [..., out] read as a matrix [-1, out]."""
  mat = w.reshape(-1, w.shape[-1])
  unit = lambda a: a * lax.rsqrt(jnp.sum(a * a) + 1e-12)  # noqa: E731
  v = unit(mat @ u)
  u = lax.stop_gradient(unit(mat.T @ v))
  sigma = lax.stop_gradient(v) @ mat @ u
  return w / sigma, u
