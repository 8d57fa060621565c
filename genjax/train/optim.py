"""Optimizer from config: AdamW with warmup and decay, gradient clipping by global norm."""

import optax


def schedule(cfg, steps, lr=None):
  """`lr` overrides cfg.lr as the peak (a GAN critic's own rate); warmup and decay stay cfg's."""
  lr = cfg.lr if lr is None else lr
  warmup = min(cfg.warmup_steps, max(steps - 1, 0))
  if cfg.decay == "cosine":
    return optax.warmup_cosine_decay_schedule(0.0, lr, warmup, max(steps, warmup + 1),
                                              end_value=lr * cfg.end_lr_frac)
  if cfg.decay == "constant":
    return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), optax.constant_schedule(lr)],
                                [warmup])
  raise ValueError(f"unknown optim.decay {cfg.decay!r}; use 'cosine' or 'constant'")


def make(cfg, steps, lr=None):
  """clip_norm 0 turns clipping off (GANs train without it); `lr` as in `schedule`."""
  return optax.chain(
      optax.clip_by_global_norm(cfg.clip_norm) if cfg.clip_norm else optax.identity(),
      optax.adamw(schedule(cfg, steps, lr), b1=cfg.b1, b2=cfg.b2, weight_decay=cfg.weight_decay))


class PerNetwork:
  """One optimizer per named network (a GAN's G and D), each stepped on its own schedule of updates.

  `init` gives the train state's opt_state {name: state}; the trainer shards it like any optimizer state.
  """

  def __init__(self, txs):
    self.txs = txs

  def init(self, params):
    return {name: tx.init(params[name]) for name, tx in self.txs.items()}

  def apply(self, name, params, grads, opt_state):
    updates, opt_state = self.txs[name].update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def map_params(tx, fn, opt_state, params, **kw):
  """optax.tree_map_params for one optimizer or a PerNetwork: fn on the optimizer leaves shaped like params."""
  if isinstance(tx, PerNetwork):
    return {name: optax.tree_map_params(t, fn, opt_state[name], params[name], **kw) for name, t in tx.txs.items()}
  return optax.tree_map_params(tx, fn, opt_state, params, **kw)
