"""Where numbers go: metrics.jsonl (one JSON object a line), TensorBoard events, and a progress line."""

import json
import os
import sys
import time

import numpy as np


class MetricWriter:
  """Writes on process 0 only; other processes get a writer that does nothing."""

  def __init__(self, workdir, active=True):
    self.active = active
    if not active:
      return
    from tensorboardX import SummaryWriter
    os.makedirs(workdir, exist_ok=True)
    self.jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a", encoding="utf-8")
    self.tb = SummaryWriter(os.path.join(workdir, "tb"))

  def scalars(self, step, metrics, prefix=""):
    if not self.active:
      return
    row = {f"{prefix}{k}": float(v) for k, v in metrics.items()}
    self.jsonl.write(json.dumps({"step": int(step), "time": round(time.time(), 3), **row}) + "\n")
    self.jsonl.flush()
    for k, v in row.items():
      self.tb.add_scalar(k, v, step)

  def samples(self, step, samples, modality):
    """Samples in TensorBoard as their modality shows them (images, text, audio)."""
    if self.active:
      modality.tensorboard(self.tb, step, samples)

  def close(self):
    if self.active:
      self.jsonl.close()
      self.tb.close()


class Progress:
  """step, loss, examples/s and ETA: one rewritten line on a terminal, plain lines in a log file."""

  def __init__(self, total_steps, examples_per_step, stream=sys.stdout):
    self.total, self.per_step, self.stream = total_steps, examples_per_step, stream
    self.tty = stream.isatty()
    self.mark = None

  def start(self, step):
    self.mark = (step, time.perf_counter())

  def update(self, step, metrics):
    """Report the window since the last update; returns examples/s for the metrics file."""
    last_step, last_time = self.mark
    now = time.perf_counter()
    rate = (step - last_step) / max(now - last_time, 1e-9)
    self.mark = (step, now)
    eta = (self.total - step) / rate if rate > 0 else float("nan")
    parts = " ".join(f"{k} {v:.4f}" for k, v in metrics.items())
    line = (f"step {step}/{self.total} {parts} | {rate * self.per_step:,.0f} examples/s | "
            f"ETA {_duration(eta)}")
    self.stream.write(("\r\033[K" + line) if self.tty else line + "\n")
    self.stream.flush()
    return rate * self.per_step

  def message(self, text):
    self.stream.write(("\r\033[K" if self.tty else "") + text + "\n")
    self.stream.flush()


def _duration(seconds):
  if not np.isfinite(seconds):
    return "?"
  m, s = divmod(int(seconds), 60)
  h, m = divmod(m, 60)
  return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"
