"""Convolutions written so that every pass, including second derivatives, is an op XLA runs fast on CPU.

A strided transposed convolution differentiates, under plain autodiff, into a kernel gradient that XLA's CPU
backend lowers to a generic window-dilated convolution running near 1 GFLOP/s: 80% of the conv VAE step and
most of the DCGAN generator's. WGAN-GP meets the same op inside the critic: the input gradient of a strided
convolution is a transposed convolution, and the penalty differentiates it again. So:

- `conv_transpose` computes what `lax.conv_transpose` does (numbers equal `nnx.ConvTranspose`): in 1-D as a
  sub-pixel convolution (XLA CPU runs it 30x faster), for outputs narrower than the input as one matmul
  whose products are scattered to the output, otherwise with lax's own op. Its backward builds the im2col
  matrix of the output gradient (strided slices) once, and both gradients are single matmuls with it.
- `conv` (strided, 'SAME') computes its input gradient with `conv_transpose` and its kernel gradient with
  slices + einsum, so a gradient penalty's second derivative stays on the fast ops.

Measured in BUILD_NOTES.md (one 14x14 -> 28x28 layer: 441 ms -> 27 ms forward+backward).
"""

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import lax

SPATIAL = {1: "W", 2: "HW", 3: "DHW"}


def _numbers(ndim):
  s = SPATIAL[ndim - 2]
  return (f"N{s}C", f"{s}IO", f"N{s}C")


def _same_transpose_padding(k, s):
  """(lo, hi) that lax.conv_transpose uses for 'SAME' (jax's _conv_transpose_padding); output n * s."""
  pad_len = k + s - 2
  lo = k - 1 if s > k - 1 else -(-pad_len // 2)
  return lo, pad_len - lo


def _same_conv_padding(k, s, n):
  """(lo, hi) of lax's 'SAME' strided convolution of length n."""
  total = max((-(-n // s) - 1) * s + k - n, 0)
  return total // 2, total - total // 2


def _plain_transpose(x, w, strides, pads):
  return lax.conv_transpose(x, w, strides, pads, dimension_numbers=_numbers(x.ndim))


def _transpose_lengths(x, kernel, strides, pads):
  """Output length per spatial axis of lax.conv_transpose with explicit padding."""
  return [(u - 1) * s + lo + hi - k + 2 for u, k, s, (lo, hi) in zip(x.shape[1:-1], kernel, strides, pads)]


def _subpixel_transpose(x, w, strides, pads):
  """The same transposed convolution as one stride-1 convolution with s times the output channels, then an
  interleave: output phase r of every position only ever meets kernel taps a = s*d + lo - r."""
  kernel, nd, cout = w.shape[:-2], x.ndim - 2, w.shape[-1]
  lengths = _transpose_lengths(x, kernel, strides, pads)
  blocks = [-(-n // s) for n, s in zip(lengths, strides)]  # output positions per phase
  sub, conv_pads = w, []
  for ax, (k, s, (lo, _), q, u) in enumerate(zip(kernel, strides, pads, blocks, x.shape[1:-1])):
    first = min(-(-(r - lo) // s) for r in range(s))
    last = max((k - 1 + r - lo) // s for r in range(s))
    taps = s * (first + np.arange(last - first + 1)[:, None]) + lo - np.arange(s)[None, :]
    valid = ((taps >= 0) & (taps < k)).reshape((1,) * ax + taps.shape + (1,) * (sub.ndim - ax - 1))
    sub = jnp.where(valid, jnp.take(sub, np.clip(taps, 0, k - 1), axis=ax), 0.0)
    sub = jnp.moveaxis(sub, ax + 1, -1)  # the phase axis goes last
    conv_pads.append((-first, last + q - u))
  # sub: [taps..., in, out, phases...] -> [taps..., in, phases... * out]
  sub = jnp.moveaxis(sub, nd + 1, -1).reshape(*sub.shape[:nd], sub.shape[nd], -1)
  z = lax.conv_general_dilated(x, sub, (1,) * nd, conv_pads, dimension_numbers=_numbers(x.ndim))
  n = x.shape[0]
  z = z.reshape(n, *blocks, *strides, cout)
  order = [0] + [a for i in range(nd) for a in (1 + i, 1 + nd + i)] + [1 + 2 * nd]
  z = z.transpose(order).reshape(n, *(q * s for q, s in zip(blocks, strides)), cout)
  return z[(slice(None), *(slice(0, m) for m in lengths))]


def _overlap_transpose(x, w, strides, pads):
  """The same transposed convolution as one matmul to every (position, kernel offset) pair, each offset's
  products then scattered to s*u + lo - a: for outputs narrower than the input (K * out <= in) the scattered
  tensors are small, and XLA CPU runs a convolution with one or two output channels at a few GFLOP/s."""
  kernel, (cin, cout) = w.shape[:-2], w.shape[-2:]
  z = x @ jnp.moveaxis(w, -2, 0).reshape(cin, -1)  # [N, *n, K * out]
  z = z.reshape(*x.shape[:-1], -1, cout)
  lengths = _transpose_lengths(x, kernel, strides, pads)
  total = 0
  for b, offset in enumerate(itertools.product(*map(range, kernel))):
    config = [(0, 0, 0)]
    for a, s, (lo, _), u, m in zip(offset, strides, pads, x.shape[1:-1], lengths):
      config.append((lo - a, m - (lo - a) - (u - 1) * s - 1, s - 1))
    total = total + lax.pad(z[..., b, :], jnp.zeros((), z.dtype), config + [(0, 0, 0)])
  return total


def _transpose_forward_op(x, w, strides, pads):
  """Narrow outputs: matmul then scatter; 1-D: sub-pixel (XLA CPU's 1-D input-dilated convolution is ~30x
  slower); otherwise lax's own."""
  if math.prod(w.shape[:-2]) * w.shape[-1] <= w.shape[-2]:
    return _overlap_transpose(x, w, strides, pads)
  return (_subpixel_transpose if x.ndim == 3 else _plain_transpose)(x, w, strides, pads)


def _strided_slices(x, kernel, strides, count, lows):
  """[N, *count, K, C] (im2col): for every kernel offset a, x_padded[s*u + a] over the `count` positions u,
  offsets next to channels so that [N * positions, K * C] is one matrix for the gradient matmuls."""
  pads = [(0, 0, 0)]
  for k, s, c, lo, n in zip(kernel, strides, count, lows, x.shape[1:-1]):
    pads.append((lo, max((c - 1) * s + k - n - lo, 0), 0))
  xp = lax.pad(x, jnp.zeros((), x.dtype), pads + [(0, 0, 0)])
  slices = []
  for offset in itertools.product(*map(range, kernel)):
    limit = (x.shape[0], *(o + (c - 1) * s + 1 for o, c, s in zip(offset, count, strides)), x.shape[-1])
    slices.append(lax.slice(xp, (0, *offset, 0), limit, (1, *strides, 1)))
  return jnp.stack(slices, -2)


def _contract(a, cols):
  """sum over batch and positions of a[..., i] * cols[..., k, o] -> [k, i, o] (the kernel gradient)."""
  k, o = cols.shape[-2:]
  return jnp.einsum("ni,nko->kio", a.reshape(-1, a.shape[-1]), cols.reshape(-1, k, o))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_transpose(x, w, strides, pads):
  return _transpose_forward_op(x, w, strides, pads)


def _transpose_fwd(x, w, strides, pads):
  return _conv_transpose(x, w, strides, pads), (x, w)


def _transpose_bwd(strides, pads, res, g):
  x, w = res
  kernel, (cin, cout) = w.shape[:-2], w.shape[-2:]
  # cols[u, b] = g[s*u + lo - a] for the flipped offset b = k-1-a: the im2col matrix of g that both
  # gradients need, so each is one matmul (dx as an ordinary strided conv would run at a third of the speed).
  lows = [k - 1 - lo for k, (lo, _) in zip(kernel, pads)]
  cols = _strided_slices(g, kernel, strides, x.shape[1:-1], lows)
  flipped = jnp.flip(w, axis=tuple(range(len(kernel))))
  dx = cols.reshape(*x.shape[:-1], -1) @ jnp.swapaxes(flipped, -1, -2).reshape(-1, cin)
  dw = _contract(x, cols).reshape(*kernel, cin, cout)
  return dx, jnp.flip(dw, axis=tuple(range(len(kernel))))


_conv_transpose.defvjp(_transpose_fwd, _transpose_bwd)


def conv_transpose(x, w, strides):
  """'SAME' transposed convolution (output = input * stride), channels last; w [*kernel, in, out] as in
  nnx.ConvTranspose."""
  pads = tuple(_same_transpose_padding(k, s) for k, s in zip(w.shape[:-2], strides))
  return _conv_transpose(x, w, tuple(strides), pads)


def _plain_conv(x, w, strides):
  return lax.conv_general_dilated(x, w, strides, "SAME", dimension_numbers=_numbers(x.ndim))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv(x, w, strides):
  """'SAME' strided convolution, channels last, w [*kernel, in, out]; forward equals lax/nnx.Conv."""
  return _plain_conv(x, w, strides)


def _conv_fwd(x, w, strides):
  return _plain_conv(x, w, strides), (x, w)


def _conv_bwd(strides, res, g):
  x, w = res
  kernel, spatial = w.shape[:-2], x.shape[1:-1]
  lows = [_same_conv_padding(k, s, n)[0] for k, s, n in zip(kernel, strides, spatial)]
  # dx is the transposed convolution of g with the flipped, in/out-swapped kernel, cut to x's length.
  flipped = jnp.swapaxes(jnp.flip(w, axis=tuple(range(len(kernel)))), -1, -2)
  pads = tuple((k - 1 - lo, n - (u - 1) * s - 2 + lo + 1) for k, s, n, u, lo in
               zip(kernel, strides, spatial, g.shape[1:-1], lows))
  dx = _conv_transpose(g, flipped, tuple(strides), pads)
  dw = _contract(g, _strided_slices(x, kernel, strides, g.shape[1:-1], lows))
  return dx, jnp.swapaxes(dw, -1, -2).reshape(w.shape)  # contracted as [k, o, i]


conv.defvjp(_conv_fwd, _conv_bwd)


def compute(dtype, *arrays):
  """`arrays` cast to the compute dtype (mixed precision: float32 parameters, bfloat16 matmuls), or as they
  are where `dtype` is None, as flax layers treat their `dtype`."""
  return arrays if dtype is None else tuple(a.astype(dtype) for a in arrays)


def remat(fn, policy):
  """`fn` under jax.checkpoint with the named policy of jax.checkpoint_policies, or as it is for 'none': the
  backward pass recomputes the block's intermediates from its inputs instead of keeping them from the forward
  (except what the policy saves), so a step's activation memory holds block inputs rather than every
  intermediate. Models apply it per recurrent layer and per conv block (conv, norm, activation)."""
  return fn if policy == "none" else jax.checkpoint(fn, policy=getattr(jax.checkpoint_policies, policy))


class _Strided(nnx.Module):
  """The parameters nnx.Conv / nnx.ConvTranspose have ('kernel' [*kernel, in, out], lecun-normal; 'bias'),
  kept float32; `dtype` is the dtype the layer computes in."""

  def __init__(self, in_features, out_features, kernel_size, strides, *, dtype=None, rngs):
    self.strides, self.dtype = tuple(strides), dtype
    init = nnx.initializers.lecun_normal()
    self.kernel = nnx.Param(init(rngs.params(), (*kernel_size, in_features, out_features)))
    self.bias = nnx.Param(jnp.zeros((out_features,)))

  def operands(self, x, kernel=None):
    return compute(self.dtype, x, self.kernel[...] if kernel is None else kernel, self.bias[...])


class ConvTranspose(_Strided):
  """Drop-in for nnx.ConvTranspose(padding='SAME') with the same parameters ('kernel', 'bias') and outputs."""

  def __call__(self, x):
    x, w, b = self.operands(x)
    return conv_transpose(x, w, self.strides) + b


class Conv(_Strided):
  """Drop-in for nnx.Conv(padding='SAME', strides=...); `kernel` can be replaced at call time (spectral
  normalization). With `second_order` its gradients of any order avoid XLA CPU's slow window-dilated
  convolutions (gradient penalties need it; the VAE encoder's step is faster with it too); without, it is
  lax's convolution, whose first-order gradients XLA runs well in the DCGAN critic (that step ~6% faster)."""

  def __init__(self, in_features, out_features, kernel_size, strides, second_order=True, *, dtype=None, rngs):
    super().__init__(in_features, out_features, kernel_size, strides, dtype=dtype, rngs=rngs)
    self.op = conv if second_order else _plain_conv

  def __call__(self, x, kernel=None):
    x, w, b = self.operands(x, kernel)
    return self.op(x, w, self.strides) + b


class BatchNorm(nnx.Module):
  """Normalizes by the statistics of the batch at hand, in training and sampling alike (as DCGAN's reference
  generator does); no running averages, so an EMA of the weights needs no matching statistics. Statistics
  are float32 whatever the input's dtype (a bfloat16 variance of a large batch loses most of its digits)."""

  def __init__(self, features, eps=1e-5):
    self.scale, self.bias, self.eps = nnx.Param(jnp.ones((features,))), nnx.Param(jnp.zeros((features,))), eps

  def __call__(self, x):
    axes, h = tuple(range(x.ndim - 1)), x.astype(jnp.float32)
    mean, var = h.mean(axes), h.var(axes)
    return ((h - mean) * lax.rsqrt(var + self.eps) * self.scale[...] + self.bias[...]).astype(x.dtype)


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
