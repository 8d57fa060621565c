"""Straightforward PyTorch versions of the benchmark models, eager or compiled, timed like benchmarks/suite.py.

  python benchmarks/torch_reference.py [--model NAME ...] [--steps 20] [--threads 2] [--compile] [--sample]

The yardstick: genjax's examples/s must be at least these on the same CPU. Same shapes, losses and
optimizers as configs/bench/*.py; synthetic inputs; median of `--steps` timed steps after two warm-ups.
`--compile` runs the loss (forward and, through AOTAutograd, backward) and the optimizer update under
`torch.compile` (inductor), the strongest CPU peer a PyTorch user can switch to; WGAN-GP's critic loss needs a
double backward, which compiled autograd does not support, so the critics of wavegan and text_gan stay eager
(their generators are compiled) and the row says so. The compile happens in the warm-up steps and is not
timed. `--sample` times the samplers instead (char_lstm, sample_rnn token by token, dcgan's generator), as the
suite does; with `--compile`, the per-token step or the generator is compiled.
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

MODELS = ("char_lstm", "conv_vae", "dcgan", "wavegan", "sample_rnn", "sentence_vae", "text_gan", "dcgan:cond",
          "conv_vae:cond")  # as benchmarks/suite.py


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


def one_hot(label, classes):
  return F.one_hot(label, classes).float()


class ConvVAE(nn.Module):
  """With `classes`, the encoder's last layer and the decoder's first read the label's one-hot."""

  def __init__(self, classes=0):
    super().__init__()
    self.classes = classes
    self.enc = nn.Sequential(nn.Conv2d(1, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
                             nn.Flatten())
    self.enc_out = nn.Linear(7 * 7 * 64 + classes, 64)
    self.dec_in = nn.Linear(32 + classes, 7 * 7 * 64)
    self.dec = nn.Sequential(nn.ConvTranspose2d(64, 64, 3, 2, 1, output_padding=1), nn.ReLU(),
                             nn.ConvTranspose2d(64, 32, 3, 2, 1, output_padding=1), nn.ReLU(),
                             nn.ConvTranspose2d(32, 1, 3, 1, 1))

  def loss(self, x, *label):
    y = [one_hot(label[0], self.classes)] if label else []
    mean, log_var = self.enc_out(torch.cat([self.enc(x), *y], 1)).chunk(2, dim=1)
    z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
    logits = self.dec(F.relu(self.dec_in(torch.cat([z, *y], 1))).view(-1, 64, 7, 7))
    rec = F.binary_cross_entropy_with_logits(logits, torch.bernoulli(x), reduction="sum") / x.shape[0]
    kl = 0.5 * (log_var.exp() + mean ** 2 - 1 - log_var).sum(1).mean()
    return rec + kl


class SentenceVAE(nn.Module):
  """GRU encoder -> Gaussian z -> LSTM decoder started from tanh(W z) and reading z beside every character;
  character dropout (an extra embedding row), a masked categorical likelihood, free bits on the KL."""

  def __init__(self, vocab=65, embed=128, hidden=512, latent=32, char_dropout=0.25, free_bits=0.125):
    super().__init__()
    self.vocab, self.char_dropout, self.free_bits = vocab, char_dropout, free_bits
    self.embed = nn.Embedding(vocab + 1, embed)
    self.enc = nn.GRU(embed, hidden, batch_first=True)
    self.posterior = nn.Linear(hidden, 2 * latent)
    self.z_to_h = nn.Linear(latent, hidden)
    self.dec = nn.LSTM(embed + latent, hidden, batch_first=True)
    self.head = nn.Linear(hidden, vocab)

  def loss(self, tokens, mask, kl_weight):
    b = tokens.shape[0]
    h, _ = self.enc(self.embed(tokens[:, 1:]))
    last = mask[:, 1:].sum(1).long() - 1
    mean, log_var = self.posterior(h[torch.arange(b), last]).chunk(2, dim=1)
    z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
    inputs = tokens[:, :-1]
    drop = torch.rand(inputs.shape) < self.char_dropout
    drop[:, 0] = False
    inputs = torch.where(drop, self.vocab, inputs)
    x = torch.cat([self.embed(inputs), z[:, None].expand(-1, inputs.shape[1], -1)], 2)
    h0 = torch.tanh(self.z_to_h(z))[None]
    out, _ = self.dec(x, (h0, torch.zeros_like(h0)))
    nll = F.cross_entropy(self.head(out).transpose(1, 2), tokens[:, 1:], reduction="none") * mask[:, 1:]
    kl = 0.5 * (log_var.exp() + mean ** 2 - 1 - log_var)
    return nll.sum() / b + kl_weight * torch.clamp(kl.mean(0), min=self.free_bits).sum()


class Generator(nn.Module):
  """A network that reads z with the label's one-hot appended when `classes`."""

  def __init__(self, net, classes=0):
    super().__init__()
    self.net, self.classes = net, classes

  def forward(self, z, *label):
    return self.net(torch.cat([z, one_hot(label[0], self.classes)], 1) if label else z)


class Critic(nn.Module):
  """features -> dense score, plus with `classes` the projection of a learned class embedding onto them."""

  def __init__(self, features, width, classes=0):
    super().__init__()
    self.features, self.out = features, nn.Linear(width, 1)
    self.project = nn.Embedding(classes, width) if classes else None

  def forward(self, x, *label):
    f = self.features(x)
    out = self.out(f)[:, 0]
    return out + (self.project(label[0]) * f).sum(1) if label else out


def dcgan(classes=0):
  g = nn.Sequential(nn.Linear(100 + classes, 7 * 7 * 128), nn.Unflatten(1, (128, 7, 7)), nn.BatchNorm2d(128),
                    nn.ReLU(), nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
                    nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
  d = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 4, 2, 1), nn.LeakyReLU(0.2),
                    nn.Flatten())
  return Generator(g, classes), Critic(d, 7 * 7 * 128, classes)


def wavegan(d=32):
  ch = [8 * d, 4 * d, 2 * d, d, d // 2, 1]
  layers = [nn.Linear(100, 16 * ch[0]), nn.Unflatten(1, (ch[0], 16)), nn.ReLU()]
  for i, s in enumerate((4, 4, 4, 4, 2)):
    layers.append(nn.ConvTranspose1d(ch[i], ch[i + 1], 25, s, padding=12, output_padding=s - 1))
    layers.append(nn.Tanh() if i == 4 else nn.ReLU())
  rch = ch[::-1]
  crit = []
  for i, s in enumerate((2, 4, 4, 4, 4)):
    crit += [nn.Conv1d(rch[i], rch[i + 1], 25, s, padding=12), nn.LeakyReLU(0.2)]
  return Generator(nn.Sequential(*layers)), Critic(nn.Sequential(*crit, nn.Flatten()), 16 * rch[-1])


class ResBlocks(nn.Module):
  """[B, length, d] through `n` residual blocks x + 0.3 conv(relu(conv(relu(x)))), width-5 1-D convs."""

  def __init__(self, d, n):
    super().__init__()
    self.convs = nn.ModuleList(nn.Conv1d(d, d, 5, padding=2) for _ in range(2 * n))

  def forward(self, x):
    x = x.transpose(1, 2)
    for a, b in zip(self.convs[::2], self.convs[1::2]):
      x = x + 0.3 * b(F.relu(a(F.relu(x))))
    return x.transpose(1, 2)


def text_gan(length=32, vocab=65, d=128, z=128, blocks=5):
  g = nn.Sequential(nn.Linear(z, length * d), nn.Unflatten(1, (length, d)), ResBlocks(d, blocks),
                    nn.Linear(d, vocab), nn.Softmax(-1))
  crit = nn.Sequential(nn.Linear(vocab, d), ResBlocks(d, blocks), nn.Flatten())
  return Generator(g), Critic(crit, length * d)


def critic_loss(g, d, real, label, z, t, gp_weight):
  """The critic's loss on one batch (non-saturating, or WGAN-GP when gp_weight); `label` () or (labels,)."""
  fake = g(z, *label).detach()
  d_real, d_fake = d(real, *label), d(fake, *label)
  if not gp_weight:
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
  mix = (t * real + (1 - t) * fake).requires_grad_(True)
  grad, = torch.autograd.grad(d(mix, *label).sum(), mix, create_graph=True)
  return d_fake.mean() - d_real.mean() + gp_weight * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def generator_loss(g, d, z, label, gp_weight):
  out = d(g(z, *label), *label)
  return -out.mean() if gp_weight else F.softplus(-out).mean()


def gan_step(losses, opt_g, opt_d, real, label, z_dim, gp_weight, classes):
  """One critic and one generator update; `losses` = (critic loss, generator loss) functions. The critic sees
  the real batch's labels, the generator uniform ones (as genjax's GAN task)."""
  d_loss, g_loss = losses
  b = real.shape[0]
  t = torch.rand(b, *([1] * (real.ndim - 1)))
  loss_d = _update(d_loss(real, label, torch.randn(b, z_dim), t), *opt_d)
  fake_label = (torch.randint(0, classes, (b,)),) if classes else ()
  loss_g = _update(g_loss(torch.randn(b, z_dim), fake_label), *opt_g)
  return loss_d.item() + loss_g.item()


def synthetic_lines(b, length, vocab):
  """Lines of random lengths framed and padded by newlines (id 0), with their masks, as genjax lays them out."""
  lengths = torch.randint(1, length + 1, (b, 1))
  pos = torch.arange(length + 2)
  inside = (pos >= 1) & (pos <= lengths)
  tokens = torch.where(inside, torch.randint(1, vocab, (b, length + 2)), 0)
  return tokens, (pos <= lengths + 1).float()


def setup(name, compile_=False):
  """(batch size, one-step function, what runs compiled) of a benchmark model (`NAME:cond`: conditional)."""
  jit = torch.compile if compile_ else (lambda f: f)
  everything = "all" if compile_ else "none"
  base, _, variant = name.partition(":")
  classes = 10 if variant == "cond" else 0
  if base in ("char_lstm", "sample_rnn"):
    vocab, embed, hidden, layers, cell, seq, batch, lr = {
        "char_lstm": (65, 128, 512, 2, "lstm", 128, 32, 2e-3),
        "sample_rnn": (256, 64, 512, 1, "gru", 1024, 16, 1e-3)}[base]
    model = CharRNN(vocab, embed, hidden, layers, cell)
    opt, loss = _optimizer(model, lr, jit), jit(model.loss)
    tokens = torch.randint(0, vocab, (batch, seq + 1))
    return batch, lambda: _update(loss(tokens), *opt).item(), everything
  if base == "conv_vae":
    model = ConvVAE(classes)
    opt, loss = _optimizer(model, 1e-3, jit), jit(model.loss)
    x, label = torch.rand(128, 1, 28, 28), (torch.randint(0, classes, (128,)),) if classes else ()
    return 128, lambda: _update(loss(x, *label), *opt).item(), everything
  if base == "sentence_vae":
    model = SentenceVAE()
    opt, loss = _optimizer(model, 1e-3, jit), jit(model.loss)
    tokens, mask = synthetic_lines(64, 64, 65)
    return 64, lambda: _update(loss(tokens, mask, 0.5), *opt).item(), everything
  g, d = {"dcgan": lambda: dcgan(classes), "wavegan": wavegan, "text_gan": text_gan}[base]()
  lr, betas, batch, z_dim, gp = {"dcgan": (2e-4, (0.5, 0.999), 64, 100, 0.0),
                                 "wavegan": (1e-4, (0.5, 0.9), 16, 100, 10.0),
                                 "text_gan": (1e-4, (0.5, 0.9), 64, 128, 10.0)}[base]
  real = {"dcgan": lambda: torch.rand(batch, 1, 28, 28) * 2 - 1,
          "wavegan": lambda: torch.rand(batch, 1, 8192) * 2 - 1,
          "text_gan": lambda: F.one_hot(synthetic_lines(batch, 32, 65)[0][:, 1:33], 65).float()}[base]()
  label = (torch.randint(0, classes, (batch,)),) if classes else ()
  opt_g, opt_d = _optimizer(g, lr, jit, betas), _optimizer(d, lr, jit, betas)
  critic_jit = (lambda f: f) if gp else jit  # double backward: eager
  losses = (critic_jit(lambda real, label, z, t: critic_loss(g, d, real, label, z, t, gp)),
            jit(lambda z, label: generator_loss(g, d, z, label, gp)))
  compiled = "none" if not compile_ else "generator only (WGAN-GP critic eager)" if gp else "all"
  return batch, lambda: gan_step(losses, opt_g, opt_d, real, label, z_dim, gp, classes), compiled


SAMPLING = {"char_lstm": (32, 1000), "sample_rnn": (16, 8000), "dcgan": (1024, None)}  # as benchmarks/suite.py


def sampler(name, compile_=False):
  """(units a call makes, the call) of a model's sampling loop with fresh weights: token by token with the
  recurrent state carried and a categorical draw at every step, or one generator batch."""
  jit = torch.compile if compile_ else (lambda f: f)
  n, length = SAMPLING[name]
  if name == "dcgan":
    g = jit(dcgan()[0])
    return n, lambda: g(torch.randn(n, 100))
  vocab, embed, hidden, layers, cell = {"char_lstm": (65, 128, 512, 2, "lstm"),
                                        "sample_rnn": (256, 64, 512, 1, "gru")}[name]
  model = CharRNN(vocab, embed, hidden, layers, cell)

  @jit
  def step(tok, state):
    out, state = model.rnn(model.embed(tok), state)
    return torch.multinomial(F.softmax(model.head(out[:, 0]), -1), 1), state

  def loop():
    tok, state = torch.zeros(n, 1, dtype=torch.long), None
    for _ in range(length):
      tok, state = step(tok, state)
    return tok
  return n * length, loop


def sampling_main(args):
  """Units/s of each sampler, median of `--steps` calls after two warm-ups, under torch.no_grad."""
  names = [m for m in args.model or SAMPLING if m in SAMPLING]
  for name in names:
    units, call = sampler(name, args.compile)
    with torch.no_grad():
      seconds = _median_seconds(call, args.steps)
    unit = {"dcgan": "images_per_s", "char_lstm": "chars_per_s", "sample_rnn": "audio_samples_per_s"}[name]
    row = {"model": name, "framework": _framework(args), unit: units / seconds}
    if name == "sample_rnn":
      row["real_time_factor"] = 8000 / row[unit]
    print(json.dumps(row), flush=True)


def _median_seconds(call, steps):
  for _ in range(2):
    call()
  times = []
  for _ in range(steps):
    t0 = time.perf_counter()
    call()
    times.append(time.perf_counter() - t0)
  return statistics.median(times)


def _framework(args, compiled="all"):
  mode = f"compiled ({compiled})" if args.compile else "eager"
  return f"torch {torch.__version__} {mode}, {args.threads} threads"


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
  p.add_argument("--model", action="append", choices=MODELS, help="repeatable; default: all")
  p.add_argument("--steps", type=int, default=20)
  p.add_argument("--threads", type=int, default=2)
  p.add_argument("--compile", action="store_true", help="torch.compile (inductor) the losses and optimizer steps")
  p.add_argument("--sample", action="store_true", help="the samplers of char_lstm, sample_rnn and dcgan instead")
  args = p.parse_args()
  torch.set_num_threads(args.threads)
  torch.manual_seed(0)
  if args.sample:
    return sampling_main(args)
  for name in args.model or MODELS:
    batch, step, compiled = setup(name, args.compile)
    seconds = _median_seconds(step, args.steps)
    print(json.dumps({"model": name, "framework": _framework(args, compiled), "examples_per_s": batch / seconds,
                      "step_ms_median": 1e3 * seconds}), flush=True)


if __name__ == "__main__":
  main()
