import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from genjax.data import pipeline, sources
from genjax.errors import UserError
from genjax.train import sharding

SOURCE = sources.ArraySource({"x": np.arange(64, dtype=np.int32)})


def ids(it, n):
  return [next(it)["x"].tolist() for _ in range(n)]


def make(seed=0, pidx=0, pcount=1, batch=8):
  return pipeline.train_iterator(SOURCE, lambda e: e, batch, seed, pidx, pcount, threads=1)


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


def test_iterator_state_restores_the_exact_position():
  it = make()
  ids(it, 5)
  state = it.get_state()
  expected = ids(it, 6)
  again = make()
  again.set_state(state)
  assert ids(again, 6) == expected


def test_batch_not_divisible_by_processes_is_a_user_error():
  with pytest.raises(UserError, match="multiple of 3"):
    make(pcount=3, batch=8)


def test_eval_batches_pad_the_last_batch_with_zero_weight():
  batches = list(pipeline.eval_batches(sources.ArraySource({"x": np.arange(10)}), lambda e: e, 4))
  assert [b["x"].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 9, 9]]
  assert batches[-1]["weight"].tolist() == [1, 1, 0, 0]
  halves = [list(pipeline.eval_batches(sources.ArraySource({"x": np.arange(10)}), lambda e: e, 4, p, 2))
            for p in (0, 1)]
  assert [b["x"].tolist() for b in halves[1]] == [[2, 3], [6, 7], [9, 9]]


def test_global_batch_is_sharded_over_data():
  mesh = sharding.make_mesh((4, 2))
  g = pipeline.to_global({"x": np.zeros((8, 3), np.float32)}, mesh)["x"]
  assert g.shape == (8, 3) and g.sharding.spec == P("data")
  assert {s.data.shape for s in g.addressable_shards} == {(2, 3)}
