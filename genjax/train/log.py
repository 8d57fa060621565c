"""Where numbers go: metrics.jsonl (one JSON object a line), TensorBoard events, and a progress line."""

import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np
from etils import epath

from genjax import files


class MetricWriter:
  """Writes on process 0 only; other processes get a writer that does nothing."""

  def __init__(self, workdir, active=True):
    self.active = active
    if not active:
      return
    from tensorboardX import SummaryWriter
    path, events = os.path.join(workdir, "metrics.jsonl"), os.path.join(workdir, "tb")
    self.mirror = None
    if files.is_url(workdir):
      self.jsonl = BucketLines(path)
      self.mirror = Mirror(tempfile.mkdtemp(prefix="genjax-tb-"), events)
      events = self.mirror.local
    else:
      os.makedirs(workdir, exist_ok=True)
      self.jsonl = open(path, "a", encoding="utf-8")
    self.tb = SummaryWriter(events)

  def scalars(self, step, metrics, prefix=""):
    if not self.active:
      return
    row = {f"{prefix}{k}": float(v) for k, v in metrics.items()}
    self.jsonl.write(json.dumps({"step": int(step), "time": round(time.time(), 3), **row}) + "\n")
    self.jsonl.flush()
    for k, v in row.items():
      self.tb.add_scalar(k, v, step)
    self._sync()

  def samples(self, step, samples, modality):
    """Samples in TensorBoard as their modality shows them (images, text, audio)."""
    if self.active:
      modality.tensorboard(self.tb, step, samples)
      self._sync()

  def _sync(self):
    if self.mirror and self.mirror.due():
      self.tb.flush()
      self.mirror.upload()

  def close(self):
    if self.active:
      self.jsonl.close()
      self.tb.close()
      if self.mirror:
        self.mirror.upload()
        shutil.rmtree(self.mirror.local, ignore_errors=True)


class BucketLines:
  """A text object in a bucket, appended to like a file opened with "a". Objects cannot grow in place, so
  each write uploads the whole text again: metrics come every log_every steps, a few hundred bytes a row."""

  def __init__(self, path):
    self.path = epath.Path(path)
    self.text = self.path.read_text() if self.path.exists() else ""  # a resumed run continues the file

  def write(self, text):
    self.text += text
    self.path.write_text(self.text)

  def flush(self):
    """Each write is already uploaded."""

  def close(self):
    """Nothing is held open."""


class Mirror:
  """TensorBoard events for a bucket, written to a local folder and uploaded whole every `every` seconds and
  at the end. (tensorboardX's own gs:// writer uploads once more when collected at interpreter exit, which
  waits out two minutes of retries when a preempted VM has lost its network.)"""

  def __init__(self, local, url, every=30.0):
    self.local, self.url, self.every = local, epath.Path(url), every
    self.last = -float("inf")

  def due(self):
    return time.monotonic() - self.last >= self.every

  def upload(self):
    for name in sorted(os.listdir(self.local)):
      with open(os.path.join(self.local, name), "rb") as f:
        (self.url / name).write_bytes(f.read())
    self.last = time.monotonic()


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
