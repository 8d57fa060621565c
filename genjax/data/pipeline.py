"""Batch-level input pipeline: one vectorized read per batch from a random-access source, transforms over
whole batches in numpy, batches computed ahead in threads; then global jax.Arrays.

The training stream is the concatenation of epochs: epoch e is a permutation, drawn from (seed, e), of this
process's slice `source[process_index::process_count]`, and batch k is stream positions [k*B, (k+1)*B).
Batch k is so a pure function of (seed, k), random crops included, and the iterator's whole state is the
next k: a resumed run sees exactly the batches an uninterrupted one would have seen. The state is saved with
grain's checkpoint handler. Batches are computed ahead by plain threads and queues: grain's prefetch costs
about 100 us an element here, a queue 16 us, and small batches arrive thousands of times a second.

A source is anything with `__len__` and `__getitem__`; one that also has `read(indices)` (ArraySource,
text windows) is gathered a batch at a time, any other (TFDS) one example at a time.
"""

import functools
import json
import queue
import threading
import weakref

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from genjax.errors import UserError

# Saved with every checkpoint: a saved position means something only to the pipeline that wrote it.
VERSION = "batches-1"
_ORDER, _TRANSFORM = 0, 1  # the two random streams a seed starts: epoch orders, and the transforms' draws


def local_batch_size(global_batch, process_count):
  if global_batch % process_count:
    raise UserError(f"batch_size {global_batch} does not split over {process_count} processes; "
                    f"set --config.batch_size to a multiple of {process_count}")
  return global_batch // process_count


def read(source, indices):
  """Examples `indices` as a dict of arrays [len(indices), ...]: one gather where the source can, else one
  example at a time, stacked."""
  if hasattr(source, "read"):
    return source.read(indices)
  examples = [source[int(i)] for i in indices]
  return {k: np.stack([np.asarray(e[k]) for e in examples]) for k in examples[0]}


class Stream:
  """Batch k of this process's endless training stream, computed from k alone (from several threads).

  A source read in blocks (prepared ArrayRecord data: `source.block` examples a record) gets a block-aware
  epoch order: the blocks in a random order, then the examples of each run of WINDOW consecutive blocks in
  that order shuffled together. Every example still comes once an epoch and the groups change every epoch,
  but a batch holds examples of at most two groups: it reads a few blocks instead of one per example.
  """

  WINDOW = 32

  def __init__(self, source, transform, batch, seed, process_index=0, process_count=1):
    self.source, self.transform, self.batch, self.seed = source, transform, batch, seed
    self.process_index = process_index
    self.slice = (source.process_slice(process_index, process_count) if hasattr(source, "process_slice") else
                  np.arange(process_index, len(source), process_count))
    self.block = getattr(source, "block", None)
    if not len(self.slice):
      raise UserError("the training split is empty for this process; use more data or fewer processes")

  @functools.lru_cache(maxsize=4)  # a batch spans at most a few epochs; threads near an epoch's end share one
  def order(self, epoch):
    """Positions in `slice` of epoch `epoch`, in order: a permutation, block-aware when the source has blocks."""
    rng = np.random.default_rng([self.seed, _ORDER, epoch])
    if not self.block:
      return rng.permutation(len(self.slice))
    blocks, starts, counts = np.unique(self.slice // self.block, return_index=True, return_counts=True)
    picked = rng.permutation(len(blocks))
    lengths = counts[picked]
    ends = np.cumsum(lengths)
    positions = np.arange(ends[-1]) + np.repeat(starts[picked] - (ends - lengths), lengths)
    groups = np.repeat(np.arange(len(blocks)) // self.WINDOW, lengths)
    return positions[np.argsort(groups + rng.random(len(positions)))]  # shuffled within each group

  def indices(self, k):
    """Source indices of batch k: stream positions [k*B, (k+1)*B) through the epochs they fall in."""
    n, end = len(self.slice), (k + 1) * self.batch
    pieces = [self.order(e)[max(k * self.batch - e * n, 0):end - e * n]
              for e in range(k * self.batch // n, (end - 1) // n + 1)]
    return self.slice[np.concatenate(pieces)]

  def __call__(self, k):
    rng = (np.random.default_rng([self.seed, _TRANSFORM, self.process_index, k])
           if getattr(self.transform, "random", False) else None)
    return self.transform(read(self.source, self.indices(k)), rng)


def train_iterator(source, transform, global_batch, seed, process_index=0, process_count=1, threads=1):
  """Endless shuffled batches of this process's slice, computed ahead in `threads` threads."""
  return Prefetch(Stream(source, transform, local_batch_size(global_batch, process_count), seed, process_index,
                         process_count), threads)


class Prefetch:
  """`stream(k)` for k = next, next + 1, ..., computed ahead: thread t of T makes the batches k = t mod T, two
  ahead, so they arrive in order. Its state is the next k (grain's checkpoint handler saves it as bytes); a
  batch that fails raises in the consumer, at its place in the stream."""

  def __init__(self, stream, threads=1, ahead=2):
    self.stream, self.threads, self.ahead, self.next = stream, max(int(threads), 1), ahead, 0
    self._queues = None

  def __iter__(self):
    return self

  def __next__(self):
    if self._queues is None:
      self._start()
    item = self._queues[self.next % self.threads].get()
    if isinstance(item, BaseException):
      self.close()
      raise item
    self.next += 1
    return item

  def _start(self):
    halt = threading.Event()
    self._queues = [queue.Queue(self.ahead) for _ in range(self.threads)]
    for t, q in enumerate(self._queues):
      first = self.next + (t - self.next) % self.threads  # the first k = t mod T from here
      threading.Thread(target=_produce, args=(self.stream, first, self.threads, q, halt), daemon=True,
                       name=f"genjax-batches-{t}").start()
    self._halt = weakref.finalize(self, halt.set)  # the threads end with the iterator, or on close()

  def close(self):
    if self._queues is not None:
      self._halt()
      self._queues = None

  def get_state(self):
    return json.dumps({"next_batch": self.next}).encode()

  def set_state(self, state):
    self.close()
    self.next = int(json.loads(state)["next_batch"])

  def start_prefetch(self):
    """Called by grain's handler after a restore; the threads start with the first batch asked for."""


def _produce(stream, k, step, out, halt):
  """Batches k, k + step, ... into `out` until `halt`; a failure is handed on in the batch's place."""
  while not halt.is_set():
    try:
      item = stream(k)
    except Exception as e:  # noqa: BLE001  raised again by the consumer
      item = e
    while not halt.is_set():
      try:
        out.put(item, timeout=0.1)
        break
      except queue.Full:
        continue
    if isinstance(item, BaseException):
      return
    k += step


def eval_batches(source, transform, global_batch, process_index=0, process_count=1):
  """Every example once, in order; the last batch is padded and carries `weight` 0 on the padding."""
  n = len(source)
  if n == 0:
    raise UserError("the held-out split is empty; lower --config.data.val_fraction's precision or add data")
  per = local_batch_size(global_batch, process_count)
  for s in range(-(-n // global_batch)):
    idx = np.arange(s * global_batch, (s + 1) * global_batch)[process_index * per:(process_index + 1) * per]
    batch = transform(read(source, np.minimum(idx, n - 1)))
    batch["weight"] = (idx < n).astype(np.float32)
    yield batch


def batch_sharding(mesh):
  return NamedSharding(mesh, P("data"))


def to_global(batch, mesh):
  """Per-process numpy batch -> global jax.Arrays sharded over 'data' (same code on 1 or N hosts)."""
  sharding = batch_sharding(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v)) for k, v in batch.items()}


class Head:
  """The first n examples of a random-access source."""

  def __init__(self, source, n):
    self.source, self.n = source, min(n, len(source))

  def __len__(self):
    return self.n

  def __getitem__(self, i):
    if not 0 <= i < self.n:
      raise IndexError(i)
    return self.source[i]

  def read(self, indices):
    if len(indices) and not 0 <= min(indices) <= max(indices) < self.n:
      raise IndexError(f"indices outside the first {self.n}")
    return read(self.source, indices)
