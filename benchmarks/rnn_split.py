"""Where a recurrent layer's training time goes: the recurrent step split into its matmul chain, its gate
arithmetic and its layout changes, forward and backward, beside the matmuls outside the scan.

  python benchmarks/rnn_split.py [--cell lstm --batch 32 --time 128 --features 512 --hidden 512] [--steps 20]

Defaults are char_lstm's second layer (benchmarks/suite.py); `--cell gru --batch 16 --time 1024 --features 64`
is sample_rnn's. Each part is jitted on its own and timed as the suite times (median of blocked calls after
warm-up, parts taking turns), so the parts need not add up to the whole exactly: XLA fuses across their
borders in the real layer. Parts, per layer call:
  forward            rnn.recurrence's forward scan as the layer runs it (time-major inputs, [H, B] carry)
  forward_no_layout  the same scan fed feature-major inputs and keeping feature-major outputs: what the
                     in-loop transposes cost is forward - forward_no_layout
  forward_matmuls    the scan's matmul chain alone: T dependent [gH, H] x [H, B] products
  backward           the custom backward pass (the reverse scan, then the weight-gradient matmul)
  backward_matmuls   the reverse chain's [H, gH] x [gH, B] products alone
  input_projection   x [T*B, F] x wi [F, gH], outside the scan, and its two gradient matmuls
  weight_gradient    the backward's one [H, T*B] x [T*B, gH] weight-gradient matmul
Gate arithmetic is forward_no_layout - forward_matmuls (forward) and backward - backward_matmuls -
weight_gradient (backward). FLOP/s are against this machine's float32 matmul peak (suite.matmul_peak).
"""

import argparse
import functools
import json

import jax
import jax.numpy as jnp
from flax import nnx

from genjax.models import rnn
from suite import matmul_peak, timed_alternating


def parts(cell_name, b, t, f, h):
  """{part: (jitted call, FLOPs it does)} of one layer call at these shapes, on random inputs."""
  cell, keys = rnn.CELLS[cell_name], jax.random.split(jax.random.key(0), 6)
  g = cell.GATES
  layer = rnn.Recurrent(cell_name, f, h, rngs=nnx.Rngs(0))
  w = (layer.wh[...],) if cell_name == "lstm" else (layer.wh[...], layer.bhn[...])
  x = jax.random.normal(keys[0], (t, b, f))
  xi = jnp.einsum("tbf,fgh->tbgh", x, layer.wi[...]) + layer.b[...]
  carry = layer.zero_carry(b)
  rec = w[0].reshape(g * h, h)
  mm = 2 * g * h * h * b * t  # one chain of T recurrent matmuls

  def no_layout(xi_fm, carry_fm, w):
    def step(c, xt):
      new, res = cell.step(c, xt, (w[0].reshape(g * h, h), *w[1:]))
      return new, (new[0], c, res)
    return jax.lax.scan(step, carry_fm, xi_fm)

  def chain(start, lhs, feed):
    """T dependent products lhs @ carry; `feed` turns each product into the next carry (a slice or an add,
    negligible next to the matmul)."""
    return jax.lax.scan(lambda c, _: (feed(c, lhs @ c), None), start, None, length=t)[0]

  (ys, last), vjp = jax.vjp(lambda xi, w: rnn.recurrence(cell, xi, w, carry), xi, w)
  dys = (jax.random.normal(keys[1], ys.shape), jax.tree.map(jnp.zeros_like, last))
  xi_fm, carry_fm = jnp.moveaxis(xi, 1, -1), tuple(c.T for c in carry)
  h0, dz0 = jax.random.normal(keys[2], (h, b)), jax.random.normal(keys[5], (g * h, b))
  wmat = jnp.transpose(w[0], (2, 0, 1)).reshape(h, g * h)  # the backward's [H, gH], as rnn._recurrence_bwd
  dz = jax.random.normal(keys[3], (t * b, g * h))
  hs = jax.random.normal(keys[4], (t * b, h))
  wi = layer.wi[...].reshape(f, g * h)
  xf = x.reshape(t * b, f)
  jit = lambda fn, *args: functools.partial(jax.jit(fn), *args)  # noqa: E731 (arguments, not folded constants)
  return {
      "forward": (jit(lambda xi, w: rnn.recurrence(cell, xi, w, carry), xi, w), mm),
      "forward_no_layout": (jit(no_layout, xi_fm, carry_fm, w), mm),
      "forward_matmuls": (jit(lambda h0, rec: chain(h0, rec, lambda c, z: z[:h]), h0, rec), mm),
      "backward": (jit(lambda vjp, dys: vjp(dys), vjp, dys), 2 * mm),  # the forward's residuals are inputs
      "backward_matmuls": (jit(lambda dz0, wmat: chain(dz0, wmat, lambda c, d: (c.reshape(g, h, b) + d).reshape(-1, b)),
                               dz0, wmat), mm),
      "input_projection": (jit(lambda xf, wi, dz: (xf @ wi, dz @ wi.T, xf.T @ dz), xf, wi, dz),
                           3 * 2 * t * b * f * g * h),
      "weight_gradient": (jit(lambda hs, dz: hs.T @ dz, hs, dz), 2 * t * b * h * g * h),
  }


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--cell", default="lstm", choices=sorted(rnn.CELLS))
  p.add_argument("--batch", type=int, default=32)
  p.add_argument("--time", type=int, default=128)
  p.add_argument("--features", type=int, default=512)
  p.add_argument("--hidden", type=int, default=512)
  p.add_argument("--steps", type=int, default=20)
  args = p.parse_args()
  peak = matmul_peak()
  calls = parts(args.cell, args.batch, args.time, args.features, args.hidden)
  seconds = timed_alternating([c for c, _ in calls.values()], args.steps)
  shape = {k: getattr(args, k) for k in ("cell", "batch", "time", "features", "hidden")}
  for (name, (_, flops)), s in zip(calls.items(), seconds):
    print(json.dumps({"part": name, "ms": 1e3 * s, "gflop": flops / 1e9, "fraction_of_peak": flops / s / peak,
                      **shape, "peak_gflops": peak / 1e9}))


if __name__ == "__main__":
  main()
