"""Prepared ArrayRecord datasets: what is written reads back as the in-memory examples, training streams see
the same batches, each process its own shards, and every kind of damaged folder is refused in one line."""

import json
import pathlib

import numpy as np
import pytest

from genjax.data import pipeline, prepared, sources, text
from genjax.errors import UserError
from genjax.tasks import common

RNG = np.random.default_rng(0)
IMAGES = sources.ArraySource({"image": RNG.integers(0, 256, (300, 4, 4, 1), dtype=np.uint8),
                              "label": RNG.integers(0, 10, 300).astype(np.int32)})
HELD_OUT = sources.ArraySource({"image": RNG.integers(0, 256, (70, 4, 4, 1), dtype=np.uint8)})
CONFIG = {"source": "synthetic", "shape": [4, 4, 1], "prepared": ""}


def same(batch, rng=None):
  return batch


def data(train=IMAGES, held_out=HELD_OUT, meta=None):
  return common.Data(train=train, eval=held_out, transform=same, eval_transform=same,
                     meta=meta or {"fingerprint": "synthetic", "binarized_eval": False})


@pytest.fixture
def small_records(monkeypatch):
  """Blocks of 16 images (17 bytes an example), so a few hundred examples make many records."""
  monkeypatch.setattr(prepared, "RECORD_BYTES", 16 * 20)


def write(folder, d=None, shards=4, seed=0):
  prepared.write(d or data(), folder, CONFIG, "image", shards=shards, seed=seed, log=lambda *_: None)
  return prepared.open_manifest(folder)


def test_examples_read_back_as_written_in_the_write_order(tmp_path, small_records):
  manifest = write(tmp_path / "p")
  train = prepared.split_source(manifest, "train")
  order = np.random.default_rng(0).permutation(len(IMAGES))
  assert train.block == 16 and len(manifest["splits"]["train"]["shards"]) == 4
  assert manifest["splits"]["train"]["columns"]["label"]["stored"] == "|u1"  # labels 0-9 stored in a byte
  got, want = train.read(np.arange(len(IMAGES))), IMAGES.read(order)
  assert got["label"].dtype == np.int32 and set(got) == set(want)
  for key in want:
    np.testing.assert_array_equal(got[key], want[key])
  held_out = prepared.split_source(manifest, "eval").read(np.arange(len(HELD_OUT)))["image"]
  np.testing.assert_array_equal(np.sort(held_out.reshape(70, -1), 0), np.sort(HELD_OUT.arrays["image"].reshape(70, -1), 0))


def test_a_stream_from_shards_sees_the_batches_of_the_in_memory_examples(tmp_path, small_records):
  train = prepared.split_source(write(tmp_path / "p"), "train")
  order = np.random.default_rng(0).permutation(len(IMAGES))
  from_shards = pipeline.Stream(train, same, 10, seed=3)
  for k in range(70):  # over two epochs
    batch, idx = from_shards(k), from_shards.indices(k)
    np.testing.assert_array_equal(batch["image"], IMAGES.read(order[idx])["image"])


def test_the_block_aware_order_is_a_permutation_per_epoch_that_reads_few_blocks(tmp_path, small_records):
  train = prepared.split_source(write(tmp_path / "p", shards=1), "train")
  stream = pipeline.Stream(train, same, 8, seed=0)
  stream.WINDOW = 4
  epochs = [stream.slice[stream.order(e)] for e in range(2)]
  assert all(sorted(e) == list(range(len(IMAGES))) for e in epochs)
  assert epochs[0].tolist() != epochs[1].tolist()
  blocks_per_batch = [len(np.unique(stream.indices(k) // train.block)) for k in range(300 // 8)]
  assert max(blocks_per_batch) <= 2 * stream.WINDOW


def test_each_process_reads_its_own_shards_and_together_they_cover_the_data(tmp_path, small_records):
  train = prepared.split_source(write(tmp_path / "p"), "train")
  slices = [pipeline.Stream(train, same, 4, 0, p, 2).slice for p in range(2)]
  assert set(slices[0]).isdisjoint(slices[1]) and sorted(np.concatenate(slices)) == list(range(300))
  with pytest.raises(UserError, match="4 shards, which do not split over 3 processes.*--shards a multiple of 3"):
    pipeline.Stream(train, same, 4, 0, 0, 3)


def test_text_windows_are_cut_from_the_prepared_token_stream(tmp_path, monkeypatch):
  monkeypatch.setattr(prepared, "RECORD_BYTES", 4 * 50)  # 50 tokens a record
  ids = RNG.integers(0, 60, 1000).astype(np.int32)
  d = data(text.Windows(ids, 33), text.Chunks(ids[:300], 33))
  manifest = write(tmp_path / "p", d, shards=2)
  windows, chunks = (prepared.split_source(manifest, s) for s in ("train", "eval"))
  assert manifest["splits"]["train"]["columns"]["ids"]["stored"] == "|u1" and windows.block == 50
  every = np.arange(len(d.train))
  np.testing.assert_array_equal(windows.read(every)["tokens"], d.train.read(every)["tokens"])
  np.testing.assert_array_equal(windows[7]["tokens"], ids[7:40])
  np.testing.assert_array_equal(chunks.read(np.arange(len(chunks)))["tokens"], d.eval.read(np.arange(len(d.eval)))["tokens"])
  slices = [windows.process_slice(p, 2) for p in range(2)]
  assert sorted(np.concatenate(slices)) == every.tolist()
  short = write(tmp_path / "q", data(text.Windows(ids[:120], 80), text.Chunks(ids[:300], 33)), shards=2)
  with pytest.raises(UserError, match="no window of 80 tokens starts in the shards of process 1 of 2"):
    prepared.split_source(short, "train").process_slice(1, 2)


def test_audio_clips_of_different_lengths_round_trip(tmp_path):
  clips = np.empty(40, object)
  clips[:] = [RNG.uniform(-1, 1, RNG.integers(100, 3000)).astype(np.float32) for _ in range(40)]
  train = sources.ArraySource({"audio": clips, "label": np.arange(40, dtype=np.int32) % 10,
                               "gain": RNG.uniform(1, 2, 40).astype(np.float32)})
  manifest = write(tmp_path / "p", data(train, train), shards=1)
  got = prepared.split_source(manifest, "train").read(np.arange(40)[::-1])
  order = np.random.default_rng(0).permutation(40)[::-1]
  for i, want in zip(got["audio"], clips[order]):
    np.testing.assert_array_equal(i, want)
  np.testing.assert_array_equal(got["gain"], train.arrays["gain"][order])


def test_the_cache_keeps_memory_bounded_and_refills_evicted_blocks(tmp_path, small_records, monkeypatch):
  monkeypatch.setattr(prepared, "CACHE_BLOCKS", 4)
  train = prepared.split_source(write(tmp_path / "p", shards=1), "train")
  order = np.random.default_rng(0).permutation(len(IMAGES))
  assert train._slab["image"].shape[0] == 4 * 16
  idx = np.random.default_rng(1).permutation(len(IMAGES))  # 19 blocks through 4 slots, read in parts
  np.testing.assert_array_equal(train.read(idx)["image"], IMAGES.read(order[idx])["image"])


def test_a_failed_write_leaves_nothing_and_an_existing_folder_is_kept(tmp_path):
  class Breaks(sources.ArraySource):
    def read(self, indices):
      if indices.max() > 200:
        raise OSError("disk full")
      return super().read(indices)
  with pytest.raises(OSError):
    write(tmp_path / "p", data(Breaks(IMAGES.arrays)), shards=1)
  assert list(tmp_path.iterdir()) == []
  (tmp_path / "kept").mkdir()
  (tmp_path / "kept" / "notes.txt").write_text("mine")
  with pytest.raises(UserError, match="already exists and is not empty; pick a new --out"):
    write(tmp_path / "kept")
  assert (tmp_path / "kept" / "notes.txt").read_text() == "mine"


def damaged(folder, how):
  manifest = json.loads((folder / "manifest.json").read_text())
  shard = folder / manifest["splits"]["train"]["shards"][1]["file"]
  if how == "missing":
    shard.unlink()
  elif how == "truncated":
    shard.write_bytes(shard.read_bytes()[:-100])
  elif how == "corrupt":
    raw = bytearray(shard.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    shard.write_bytes(bytes(raw))
  elif how == "version":
    manifest["genjax"] = "0.0.1"
    (folder / "manifest.json").write_text(json.dumps(manifest))
  return shard


@pytest.mark.parametrize("how,message", [
    ("missing", "is missing: the prepared dataset is incomplete"),
    ("truncated", "truncated or was replaced"),
    ("corrupt", "does not match its SHA-256 in the manifest"),
    ("version", "was written by genjax 0.0.1.*prepare the data again with this genjax")])
def test_a_damaged_folder_is_refused_in_one_line_naming_the_file(tmp_path, small_records, how, message):
  folder = tmp_path / "p"
  write(folder)
  shard = damaged(folder, how)
  with pytest.raises(UserError, match=message) as e:
    prepared.open_manifest(folder)
  named = "manifest.json" if how == "version" else shard.name
  assert named in str(e.value) and "\n" not in str(e.value)


def test_data_prepared_for_another_config_is_refused(tmp_path, small_records):
  manifest = write(tmp_path / "p")
  prepared.check_matches(manifest, dict(CONFIG, prepared=str(tmp_path / "p")), "image", False)
  with pytest.raises(UserError, match=r"data.shape=\[4, 4, 1\] there, \[8, 8, 1\] here"):
    prepared.check_matches(manifest, dict(CONFIG, shape=(8, 8, 1)), "image", False)
  with pytest.raises(UserError, match="holds image data, the config is a text model"):
    prepared.check_matches(manifest, CONFIG, "text", False)
  with pytest.raises(UserError, match="holds raw held-out images, this model scores binary ones"):
    prepared.check_matches(manifest, CONFIG, "image", True)
  with pytest.raises(UserError, match="is not a prepared dataset; write one with `genjax prepare"):
    prepared.open_manifest(pathlib.Path(tmp_path / "nothing"))
