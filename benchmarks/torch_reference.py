"""Straightforward PyTorch versions of the five canonical models, eager or compiled, timed like benchmarks/suite.py.

  python benchmarks/torch_reference.py [--model NAME ...] [--steps 20] [--threads 2] [--compile]

The yardstick: genjax's examples/s must be at least these on the same CPU. Same shapes, losses and
optimizers as configs/bench/*.py; synthetic inputs; median of `--steps` timed steps after two warm-ups.
`--compile` runs the loss (forward and, through AOTAutograd, backward) and the optimizer update under
`torch.compile` (inductor), the strongest CPU peer a PyTorch user can switch to; WGAN-GP's critic loss needs
a double backward, which compiled autograd does not support, so wavegan's critic stays eager (its generator
is compiled) and the row says so. The compile happens in the warm-up steps and is not timed.
Needs torch (not a genjax dependency): `pip install torch==2.13.0` in a separate environment. Interleave runs
with the JAX suite on an idle machine: eager PyTorch slows 10-15x when another process takes a core.
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn
from torch.nn import functional as F


class CharRNN(nn.Module):
  def __init__(self, vocab, embed, hidden, layers, cell):
    super().__init__()
    self.embed = nn.Embedding(vocab, embed)
    self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(embed, hidden, layers, batch_first=True)
    self.head = nn.Linear(hidden, vocab)

  def loss(self, tokens):
    out, _ = self.rnn(self.embed(tokens[:, :-1]))
    logits = self.head(out)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))


class ConvVAE(nn.Module):
  def __init__(self):
    super().__init__()
    self.enc = nn.Sequential(nn.Conv2d(1, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
                             nn.Flatten(), nn.Linear(7 * 7 * 64, 64))
    self.dec_in = nn.Linear(32, 7 * 7 * 64)
    self.dec = nn.Sequential(nn.ConvTranspose2d(64, 64, 3, 2, 1, output_padding=1), nn.ReLU(),
                             nn.ConvTranspose2d(64, 32, 3, 2, 1, output_padding=1), nn.ReLU(),
                             nn.ConvTranspose2d(32, 1, 3, 1, 1))

  def loss(self, x):
    mean, log_var = self.enc(x).chunk(2, dim=1)
    z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
    logits = self.dec(F.relu(self.dec_in(z)).view(-1, 64, 7, 7))
    rec = F.binary_cross_entropy_with_logits(logits, torch.bernoulli(x), reduction="sum") / x.shape[0]
    kl = 0.5 * (log_var.exp() + mean ** 2 - 1 - log_var).sum(1).mean()
    return rec + kl


def dcgan():
  g = nn.Sequential(nn.Linear(100, 7 * 7 * 128), nn.Unflatten(1, (128, 7, 7)), nn.BatchNorm2d(128), nn.ReLU(),
                    nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
                    nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
  d = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 4, 2, 1), nn.LeakyReLU(0.2),
                    nn.Flatten(), nn.Linear(7 * 7 * 128, 1))
  return g, d


def wavegan(d=32):
  ch = [8 * d, 4 * d, 2 * d, d, d // 2, 1]
  layers = [nn.Linear(100, 16 * ch[0]), nn.Unflatten(1, (ch[0], 16)), nn.ReLU()]
  for i, s in enumerate((4, 4, 4, 4, 2)):
    layers.append(nn.ConvTranspose1d(ch[i], ch[i + 1], 25, s, padding=12, output_padding=s - 1))
    layers.append(nn.Tanh() if i == 4 else nn.ReLU())
  g = nn.Sequential(*layers)
  rch = ch[::-1]
  crit = []
  for i, s in enumerate((2, 4, 4, 4, 4)):
    crit += [nn.Conv1d(rch[i], rch[i + 1], 25, s, padding=12), nn.LeakyReLU(0.2)]
  crit += [nn.Flatten(), nn.Linear(16 * rch[-1], 1)]
  return g, nn.Sequential(*crit)


def critic_loss(g, d, real, z, t, gp_weight):
  """The critic's loss on one batch (non-saturating, or WGAN-GP when gp_weight)."""
  fake = g(z).detach()
  d_real, d_fake = d(real), d(fake)
  if not gp_weight:
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
  mix = (t * real + (1 - t) * fake).requires_grad_(True)
  grad, = torch.autograd.grad(d(mix).sum(), mix, create_graph=True)
  return d_fake.mean() - d_real.mean() + gp_weight * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def generator_loss(g, d, z, gp_weight):
  out = d(g(z))
  return -out.mean() if gp_weight else F.softplus(-out).mean()


def gan_step(losses, opt_g, opt_d, real, z_dim, gp_weight):
  """One critic and one generator update; `losses` = (critic loss, generator loss) functions."""
  d_loss, g_loss = losses
  t = torch.rand(real.shape[0], *([1] * (real.ndim - 1)))
  loss_d = _update(d_loss(real, torch.randn(real.shape[0], z_dim), t), *opt_d)
  loss_g = _update(g_loss(torch.randn(real.shape[0], z_dim)), *opt_g)
  return loss_d.item() + loss_g.item()


def setup(name, compile_=False):
  """(batch size, one-step function, what runs compiled) of a canonical model."""
  jit = torch.compile if compile_ else (lambda f: f)
  if name in ("char_lstm", "sample_rnn"):
    vocab, embed, hidden, layers, cell, seq, batch, lr = {
        "char_lstm": (65, 128, 512, 2, "lstm", 128, 32, 2e-3),
        "sample_rnn": (256, 64, 512, 1, "gru", 1024, 16, 1e-3)}[name]
    model = CharRNN(vocab, embed, hidden, layers, cell)
    opt, loss = _optimizer(model, lr, jit), jit(model.loss)
    tokens = torch.randint(0, vocab, (batch, seq + 1))
    return batch, lambda: _update(loss(tokens), *opt).item(), "all" if compile_ else "none"
  if name == "conv_vae":
    model = ConvVAE()
    opt, loss = _optimizer(model, 1e-3, jit), jit(model.loss)
    x = torch.rand(128, 1, 28, 28)
    return 128, lambda: _update(loss(x), *opt).item(), "all" if compile_ else "none"
  g, d = dcgan() if name == "dcgan" else wavegan()
  lr, betas, batch, shape, gp = ((2e-4, (0.5, 0.999), 64, (1, 28, 28), 0.0) if name == "dcgan"
                                 else (1e-4, (0.5, 0.9), 16, (1, 8192), 10.0))
  opt_g, opt_d = _optimizer(g, lr, jit, betas), _optimizer(d, lr, jit, betas)
  real = torch.rand(batch, *shape) * 2 - 1
  critic_jit = (lambda f: f) if gp else jit  # double backward: eager
  losses = (critic_jit(lambda real, z, t: critic_loss(g, d, real, z, t, gp)),
            jit(lambda z: generator_loss(g, d, z, gp)))
  compiled = "none" if not compile_ else "generator only (WGAN-GP critic eager)" if gp else "all"
  return batch, lambda: gan_step(losses, opt_g, opt_d, real, 100, gp), compiled


def _optimizer(model, lr, jit, betas=(0.9, 0.999)):
  """(Adam, its update step, compiled when `jit` compiles)."""
  opt = torch.optim.Adam(model.parameters(), lr, betas=betas)
  return opt, jit(opt.step)


def _update(loss, opt, step):
  opt.zero_grad()
  loss.backward()
  step()
  return loss  # .item() by the caller: the host sync an eager loop has anyway


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--model", action="append", choices=("char_lstm", "conv_vae", "dcgan", "wavegan", "sample_rnn"))
  p.add_argument("--steps", type=int, default=20)
  p.add_argument("--threads", type=int, default=2)
  p.add_argument("--compile", action="store_true", help="torch.compile (inductor) the losses and optimizer steps")
  args = p.parse_args()
  torch.set_num_threads(args.threads)
  torch.manual_seed(0)
  for name in args.model or ("char_lstm", "conv_vae", "dcgan", "wavegan", "sample_rnn"):
    batch, step, compiled = setup(name, args.compile)
    for _ in range(2):
      step()
    times = []
    for _ in range(args.steps):
      t0 = time.perf_counter()
      step()
      times.append(time.perf_counter() - t0)
    seconds = statistics.median(times)
    mode = f"compiled ({compiled})" if args.compile else "eager"
    print(json.dumps({"model": name, "framework": f"torch {torch.__version__} {mode}, {args.threads} threads",
                      "examples_per_s": batch / seconds, "step_ms_median": 1e3 * seconds}), flush=True)


if __name__ == "__main__":
  main()
