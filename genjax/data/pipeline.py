"""grain pipeline: per-process shard, seeded shuffle per epoch, batch, prefetch; then global jax.Arrays.

The training iterator is a grain DatasetIterator, so its position is checkpointed with the model and a
resumed run sees exactly the batches it would have seen.
"""

import grain
import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from genjax.errors import UserError


def local_batch_size(global_batch, process_count):
  if global_batch % process_count:
    raise UserError(f"batch_size {global_batch} does not split over {process_count} processes; "
                    f"set --config.batch_size to a multiple of {process_count}")
  return global_batch // process_count


def train_iterator(source, transform, global_batch, seed, process_index=0, process_count=1, threads=1):
  """Endless shuffled batches of this process's slice `source[process_index::process_count]`."""
  ds = grain.MapDataset.source(source)[process_index::process_count]
  if len(ds) == 0:
    raise UserError("the training split is empty for this process; use more data or fewer processes")
  ds = ds.shuffle(seed=seed).repeat(None)
  # A random transform (audio crops) draws from a generator grain seeds by (seed, position in the stream):
  # a restored iterator redraws the very same crops.
  ds = ds.random_map(transform, seed=seed) if getattr(transform, "random", False) else ds.map(transform)
  ds = ds.batch(local_batch_size(global_batch, process_count), drop_remainder=True)
  options = grain.ReadOptions(num_threads=threads, prefetch_buffer_size=max(2 * threads, 1))
  return iter(ds.to_iter_dataset(options))


def eval_batches(source, transform, global_batch, process_index=0, process_count=1):
  """Every example once, in order; the last batch is padded and carries `weight` 0 on the padding."""
  n = len(source)
  if n == 0:
    raise UserError("the held-out split is empty; lower --config.data.val_fraction's precision or add data")
  per = local_batch_size(global_batch, process_count)
  steps = -(-n // global_batch)
  for s in range(steps):
    idx = np.arange(s * global_batch, (s + 1) * global_batch)[process_index * per:(process_index + 1) * per]
    examples = [transform(source[int(min(i, n - 1))]) for i in idx]
    batch = {k: np.stack([e[k] for e in examples]) for k in examples[0]}
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
