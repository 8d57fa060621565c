"""Optimizer from config: AdamW with warmup and decay, gradient clipping by global norm."""

import optax


def schedule(cfg, steps):
  warmup = min(cfg.warmup_steps, max(steps - 1, 0))
  if cfg.decay == "cosine":
    return optax.warmup_cosine_decay_schedule(0.0, cfg.lr, warmup, max(steps, warmup + 1),
                                              end_value=cfg.lr * cfg.end_lr_frac)
  if cfg.decay == "constant":
    return optax.join_schedules([optax.linear_schedule(0.0, cfg.lr, warmup), optax.constant_schedule(cfg.lr)],
                                [warmup])
  raise ValueError(f"unknown optim.decay {cfg.decay!r}; use 'cosine' or 'constant'")


def make(cfg, steps):
  return optax.chain(
      optax.clip_by_global_norm(cfg.clip_norm),
      optax.adamw(schedule(cfg, steps), b1=cfg.b1, b2=cfg.b2, weight_decay=cfg.weight_decay))
