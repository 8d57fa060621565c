import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from genjax.data import pipeline, sources
from genjax.errors import UserError
from genjax.train import sharding

SOURCE = sources.ArraySource({"x": np.arange(64, dtype=np.int32)})


def ids(it, n):
  return [next(it)["x"].tolist() for _ in range(n)]


def same(batch, rng=None):
  return batch


def jitter(batch, rng):
  """A random transform: its draws come from the rng the pipeline seeds per batch."""
  return {"x": batch["x"], "noise": rng.integers(0, 1000, len(batch["x"]))}


jitter.random = True


class OneAtATime:
  """A source without `read` (like TFDS's): the pipeline reads it example by example."""

  def __init__(self, source):
    self.source = source

  def __len__(self):
    return len(self.source)

  def __getitem__(self, i):
    return self.source[i]


def make(seed=0, pidx=0, pcount=1, batch=8, source=SOURCE, transform=same, threads=1):
  return pipeline.train_iterator(source, transform, batch, seed, pidx, pcount, threads=threads)


def test_same_seed_same_order_other_seed_other_order():
  assert ids(make(0), 12) == ids(make(0), 12)
  assert ids(make(0), 4) != ids(make(1), 4)


def test_epochs_cover_the_data_and_reshuffle():
  epochs = np.array(ids(make(), 16)).reshape(2, -1)  # 64 examples, batch 8: 8 batches an epoch
  assert sorted(epochs[0]) == list(range(64)) and sorted(epochs[1]) == list(range(64))
  assert epochs[0].tolist() != epochs[1].tolist()


def test_two_processes_see_disjoint_slices_that_cover_the_data():
  a = np.array(ids(make(pidx=0, pcount=2), 8)).ravel()   # global batch 8 -> 4 per process
  b = np.array(ids(make(pidx=1, pcount=2), 8)).ravel()
  assert set(a).isdisjoint(b)
  assert sorted(np.concatenate([a, b])) == list(range(64))


def test_epochs_spanned_by_batches_hold_every_example_once():
  stream = np.array(ids(make(batch=6, source=sources.ArraySource({"x": np.arange(10)})), 10)).ravel()
  epochs = stream.reshape(6, 10)  # 60 positions: batches of 6 straddle the epochs of 10
  assert all(sorted(e) == list(range(10)) for e in epochs)
  assert len({tuple(e) for e in epochs}) == 6


def test_a_source_without_read_gives_the_same_batches():
  assert ids(make(source=OneAtATime(SOURCE)), 10) == ids(make(), 10)


@pytest.mark.parametrize("threads", [1, 3])
def test_iterator_restored_after_n_batches_continues_with_the_uninterrupted_batches(threads):
  reference = make(transform=jitter, threads=threads)
  expected = [next(reference) for _ in range(15)]
  it = make(transform=jitter, threads=threads)
  [next(it) for _ in range(5)]
  again = make(transform=jitter, threads=threads)
  again.set_state(it.get_state())
  for want in expected[5:]:
    got = next(again)
    assert got["x"].tolist() == want["x"].tolist() and got["noise"].tolist() == want["noise"].tolist()
  assert expected[0]["noise"].tolist() != expected[8]["noise"].tolist()  # each batch draws afresh


def test_batch_not_divisible_by_processes_is_a_user_error():
  with pytest.raises(UserError, match="multiple of 3"):
    make(pcount=3, batch=8)


def test_eval_batches_pad_the_last_batch_with_zero_weight():
  batches = list(pipeline.eval_batches(sources.ArraySource({"x": np.arange(10)}), same, 4))
  assert [b["x"].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 9, 9]]
  assert batches[-1]["weight"].tolist() == [1, 1, 0, 0]
  halves = [list(pipeline.eval_batches(sources.ArraySource({"x": np.arange(10)}), same, 4, p, 2))
            for p in (0, 1)]
  assert [b["x"].tolist() for b in halves[1]] == [[2, 3], [6, 7], [9, 9]]
  head = pipeline.Head(sources.ArraySource({"x": np.arange(10)}), 3)
  assert [b["x"].tolist() for b in pipeline.eval_batches(head, same, 2)] == [[0, 1], [2, 2]]
  with pytest.raises(IndexError):
    head.read(np.array([3]))


def test_global_batch_is_sharded_over_data():
  mesh = sharding.make_mesh((4, 2))
  g = pipeline.to_global({"x": np.zeros((8, 3), np.float32)}, mesh)["x"]
  assert g.shape == (8, 3) and g.sharding.spec == P("data")
  assert {s.data.shape for s in g.addressable_shards} == {(2, 3)}


def test_a_failing_batch_raises_in_the_consumer():
  def broken(batch, rng=None):
    raise UserError("images of shape (32, 32, 3), the config expects (28, 28, 1)")
  with pytest.raises(UserError, match="the config expects"):
    next(make(transform=broken, threads=2))
