"""The GAN family: non-saturating, hinge or WGAN-GP losses, R1 or spectral norm, n_critic, EMA of G.

One task for every modality: the modality turns batches into the signal both networks read ([-1, 1]
images [H, W, C], waveforms [T, 1], or one-hot text lines [T, vocab]) and generated signals back into
samples. Both networks, their
optimizer states, the EMA generator and the spectral-norm vectors live in one train state, and one jitted
`train_step` runs n_critic critic updates (each on its slice of the batch) and one generator update.
Samples come from the EMA generator, which is smoother than the raw one. `model.arch` picks DCGAN (images),
WaveGAN (waveforms, with phase shuffle in its critic) or the residual 1-D conv text GAN (characters).
With model.classes > 0 DCGAN is class-conditional: the critic scores each real image with its label and each
fake with the label it was generated for (the same labels as the real slice), the generator trains on
uniform labels, and samples cycle through the classes unless `label` picks one.
"""

import jax
import jax.numpy as jnp
import optax
from jax import lax

from genjax import modalities
from genjax.config import compute_dtype, remat_policy, require
from genjax.models import dcgan, text_gan, wavegan
from genjax.modalities.image import check_temperature
from genjax.tasks import common
from genjax.train import optim

LOSSES = ("non_saturating", "hinge", "wgan_gp")
ARCH = {"image": "dcgan", "audio": "wavegan", "text": "text_gan"}  # the generator of each modality


def input_grad_sq(critic, x):
  """||d critic(x_i) / d x_i||^2 per example, [B]."""
  grads = jax.grad(lambda x: critic(x).sum())(x)
  return jnp.sum(grads.reshape(x.shape[0], -1) ** 2, axis=1)


def gradient_penalty(critic, x):
  """(||d critic(x_i) / d x_i|| - 1)^2 per example, [B] (Gulrajani et al. 2017)."""
  return (jnp.sqrt(input_grad_sq(critic, x) + 1e-12) - 1.0) ** 2


def d_loss(kind, d_real, d_fake):
  """Per pair of (real, fake) critic outputs, [B]; the WGAN-GP penalty is added by the caller."""
  if kind == "non_saturating":
    return jax.nn.softplus(-d_real) + jax.nn.softplus(d_fake)
  if kind == "hinge":
    return jax.nn.relu(1.0 - d_real) + jax.nn.relu(1.0 + d_fake)
  return d_fake - d_real


def g_loss(kind, d_fake):
  """Per critic output on a fake, [B]."""
  return jax.nn.softplus(-d_fake) if kind == "non_saturating" else -d_fake


def make_model(shape, m, g, dtype, remat, rngs):
  """DCGAN for images [H, W, C]; WaveGAN (model.arch='wavegan', width model.d) for waveforms [T, C]; the text
  GAN (model.arch='text_gan', width model.d, model.blocks residual blocks) for one-hot lines [T, vocab]."""
  second_order = g.loss == "wgan_gp" or g.r1 > 0  # a penalty differentiates the critic's input gradient
  if m.arch == "text_gan":
    return text_gan.TextGAN(shape[0], shape[1], m.d, m.z, m.blocks, second_order, dtype=dtype, remat=remat,
                            rngs=rngs)
  if m.arch == "wavegan":
    return wavegan.WaveGAN(shape[0], m.d, m.z, shape[1], second_order, m.get("phase_shuffle", 0), dtype=dtype,
                           remat=remat, rngs=rngs)
  return dcgan.DCGAN(shape, tuple(m.g_widths), tuple(m.d_widths), m.z, m.spectral_norm, second_order,
                     m.get("classes", 0), dtype=dtype, remat=remat, rngs=rngs)


def given(label):
  """The keyword a conditional network takes its labels by; none for an unconditional one."""
  return {} if label is None else {"label": label}


class GANTask:
  PARAM_AXES = dcgan.PARAM_AXES

  @staticmethod
  def check_config(config):
    m, g = config.model, config.gan
    require(m.z >= 1, f"model.z={m.z} must be at least 1")
    require(m.arch in ARCH.values(), f"model.arch={m.arch!r} must be one of {sorted(ARCH.values())}")
    common.check_classes(config, "dcgan")
    require(g.loss in LOSSES, f"gan.loss={g.loss!r} must be one of {LOSSES}")
    k = config.get("grad_accum", 1)
    require(g.n_critic >= 1 and config.batch_size % (g.n_critic * k) == 0,
            f"gan.n_critic={g.n_critic} times grad_accum={k} must divide batch_size={config.batch_size} (each "
            f"critic update takes its slice of the batch, in grad_accum micro-batches)")
    require(g.r1 >= 0 and not (g.r1 and g.loss == "wgan_gp"), f"gan.r1={g.r1} must be >= 0 (0: off) and is "
            "for the non-saturating or hinge loss; WGAN-GP has its own penalty (gan.gp_weight)")
    require(g.r1_every >= 1, f"gan.r1_every={g.r1_every} must be >= 1 (1: R1 on every step)")
    require(g.d_lr >= 0, f"gan.d_lr={g.d_lr} must be >= 0 (0: the critic trains at optim.lr)")
    require(0 <= g.ema < 1, f"gan.ema={g.ema} must be in [0, 1) (0 samples the raw generator)")
    arch = ARCH.get(config.modality)
    require(config.modality != "text" or config.data.unit == "line", "the text GAN generates whole lines: set "
            "--config.data.unit=line")
    require(m.arch == arch, f"model.arch={m.arch!r} does not generate {config.modality}; use {arch!r}")
    modalities.get(config.modality).check_config(config)

  @staticmethod
  def load_data(config):
    return modalities.load_data(config)

  def __init__(self, config, meta):
    self.config, self.gan, self.accum = config, config.gan, config.get("grad_accum", 1)
    self.classes = common.classes(config)
    self.modality = modalities.get(config.modality)(config, meta)
    self.shape = self.modality.shape
    m = config.model
    dtype, remat = compute_dtype(config), remat_policy(config)
    self.model = common.PureModel(lambda rngs: make_model(self.shape, m, self.gan, dtype, remat, rngs))
    self.tx = optim.PerNetwork({"g": optim.make(config.optim, config.steps),
                                "d": optim.make(config.optim, config.steps * self.gan.n_critic,
                                                self.gan.d_lr or None)})
    self._generate = jax.jit(lambda params, z, label: self._bind(params, ema=True).g(z, **given(label)))

  def init(self, rng):
    init_rng, state_rng = jax.random.split(rng)
    params, stats = self.model.init_with_stats(init_rng)
    state = common.new_state(params, self.tx, state_rng)
    state["params"]["g_ema"] = jax.tree.map(jnp.copy, params["g"])  # not in the optimizer: added after it
    return dict(state, stats=stats)

  def _bind(self, params, stats=None, ema=False):
    return self.model.bind({"g": params["g_ema" if ema else "g"], "d": params["d"]}, stats)

  def _critic_loss(self, d_params, params, stats, n, micro, rng, r1_now):
    """The critic's loss on (real, labels or None, latents, GP mixing weights) as a sum over them divided by
    the critic batch's size `n`, and the sums of its parts. R1 enters only where `r1_now` (a traced bool)."""
    real, label, z, t = micro
    model, y = self._bind(dict(params, d=d_params), stats), given(label)
    fake = lax.stop_gradient(model.g(z, **y))
    shuffle = jax.random.split(jax.random.fold_in(rng, 1), 3)  # WaveGAN's phase shifts, per critic call
    d_real = model.d(real, update_stats=True, rng=shuffle[0], **y)  # the one call that advances spectral norm
    d_fake = model.d(fake, rng=shuffle[1], **y)
    loss = d_loss(self.gan.loss, d_real, d_fake).sum() / n
    gp, critic = jnp.zeros(()), lambda x: model.d(x, rng=shuffle[2], **y)
    if self.gan.loss == "wgan_gp":
      t = t.reshape((-1,) + (1,) * (real.ndim - 1))
      gp = gradient_penalty(critic, t * real + (1 - t) * fake).sum() / n
      loss = loss + self.gan.gp_weight * gp
    elif self.gan.r1:  # R1 (Mescheder et al. 2018): the critic flat on the real data, gamma / 2 ||grad||^2
      # Lazy (Karras et al. 2020): every r1_every-th step, r1_every times as strong; lax.cond runs the double
      # backward only on those steps, and is left out at r1_every=1, so the every-step recipe fuses as before.
      penalty = lambda: input_grad_sq(critic, real).sum() / n  # noqa: E731
      gp = penalty() if self.gan.r1_every == 1 else lax.cond(r1_now, penalty, lambda: jnp.zeros(()))
      loss = loss + 0.5 * self.gan.r1 * self.gan.r1_every * gp
    return loss, ({"d_real": d_real.sum() / n, "d_fake": d_fake.sum() / n, "gp": gp}, self.model.stats(model))

  def _generator_loss(self, g_params, params, stats, n, micro, rng):
    (z, label), model = micro, self._bind(dict(params, g=g_params), stats)
    y = given(label)
    return g_loss(self.gan.loss, model.d(model.g(z, **y), rng=jax.random.fold_in(rng, 1), **y)).sum() / n

  def _z(self, rng, n):
    return common.over_batch(jax.random.normal(rng, (n, self.config.model.z)))

  def _labels(self, rng, n):
    """Uniform labels [n] for the generator's update; None for an unconditional model."""
    return common.over_batch(jax.random.randint(rng, (n,), 0, self.classes)) if self.classes else None

  def _critic_update(self, d_params, d_opt, stats, params, real_slice, rng, r1_now):
    (real, label), (z_rng, mix_rng) = real_slice, jax.random.split(rng)
    n = real.shape[0]
    grad = jax.value_and_grad(self._critic_loss, has_aux=True)

    def micro_grad(micro):  # spectral norm's vectors do not depend on the data: keep the last micro-batch's
      (loss, (parts, new_stats)), grads = grad(d_params, params, stats, n, micro, mix_rng, r1_now)
      return (loss, parts, grads), new_stats
    inputs = (real, label, self._z(z_rng, n), jax.random.uniform(mix_rng, (n,)))
    (loss, parts, grads), stats = common.accumulate(micro_grad, inputs, self.accum)
    d_params, d_opt = self.tx.apply("d", d_params, grads, d_opt)
    return d_params, d_opt, stats, dict(parts, d_loss=loss, d_grad_norm=optax.tree.norm(grads))

  def _generator_grads(self, params, stats, n, rng):
    grad = jax.value_and_grad(self._generator_loss)
    inputs = (self._z(rng, n), self._labels(jax.random.fold_in(rng, 2), n))
    return common.accumulate(lambda micro: (grad(params["g"], params, stats, n, micro, rng), None), inputs,
                             self.accum)[0]

  def train_step(self, state, batch):
    """n_critic critic updates, each on its strided slice of the batch, then one generator update on as many
    latents as one slice holds. With grad_accum=k each of these gradients is the sum over k micro-batches of
    its slice (and of its latents): the critic, which normalizes nothing over the batch, gets the whole
    slice's gradient; DCGAN's generator normalizes by the statistics of each micro-batch rather than the
    slice's, and WaveGAN's phase shifts are drawn per micro-batch."""
    rng = common.step_rng(state)
    k = self.gan.n_critic
    slices = common.micro_batches((self.modality.signal(batch), common.batch_labels(batch, self.classes)), k)
    keys = jax.random.split(rng, k + 1)
    params, opt = state["params"], state["opt_state"]
    d_params, d_opt, stats = params["d"], opt["d"], state["stats"]
    r1_now = state["step"] % self.gan.r1_every == 0
    for i in range(k):  # unrolled: inside a lax.scan, XLA CPU runs these convolutions ~7x slower
      d_params, d_opt, stats, metrics = self._critic_update(d_params, d_opt, stats, params,
                                                            jax.tree.map(lambda a, i=i: a[i], slices), keys[i], r1_now)
    params = dict(params, d=d_params)
    g_value, g_grads = self._generator_grads(params, stats, slices[0].shape[1], keys[k])
    g_params, g_opt = self.tx.apply("g", params["g"], g_grads, opt["g"])
    # EMA with a warm-up (decay grows from 0.1 towards gan.ema), so early samples are not frozen at init.
    decay = jnp.minimum(self.gan.ema, (1.0 + state["step"]) / (10.0 + state["step"]))
    g_ema = jax.tree.map(lambda e, g: decay * e + (1 - decay) * g, params["g_ema"], g_params)
    state = dict(state, params=dict(params, g=g_params, g_ema=g_ema), opt_state={"g": g_opt, "d": d_opt},
                 stats=stats, step=state["step"] + 1)
    return state, dict(metrics, g_loss=g_value, grad_norm=optax.tree.norm(g_grads))  # the last critic update's

  def eval_step(self, state, batch):
    """Sums over held-out real examples and as many fresh samples: critic outputs and the critic's loss."""
    x, w = self.modality.signal(batch), batch["weight"]
    model, y = self._bind(state["params"], state["stats"]), given(common.batch_labels(batch, self.classes))
    d_real = model.d(x, **y)
    d_fake = model.d(model.g(self._z(jax.random.PRNGKey(0), x.shape[0]), **y), **y)
    return {"d_loss": (d_loss(self.gan.loss, d_real, d_fake) * w).sum(), "d_real": (d_real * w).sum(),
            "d_fake": (d_fake * w).sum(), "examples": w.sum()}

  def summarize(self, totals):
    n = totals["examples"]
    return {"d_loss": totals["d_loss"] / n, "d_real": totals["d_real"] / n, "d_fake": totals["d_fake"] / n,
            self.modality.example: n}

  def sample(self, params, rng, n, temperature=1.0, label=-1):
    """n samples from the EMA generator at z ~ N(0, temperature^2 I), as the modality writes them; a
    conditional model's of class `label` (-1: each class in turn)."""
    self.modality.check_request(n)
    check_temperature(temperature)
    labels = common.sample_labels(self.classes, n, label)
    return self.modality.decode_signal(self._generate(params, temperature * self._z(rng, n), labels))

  def quality(self, params, data, n=None, log=print):
    return self.modality.quality(lambda rng, k, labels=-1: self.sample(params, rng, k, label=labels), data, n, log)
