"""Prepared datasets: a configured dataset written once as sharded ArrayRecord files with a manifest, then read
for training a block at a time without loading it whole.

`genjax prepare` writes each split the task loads (`train`, and `eval` as it is scored: binarized images for
models of binary pixels, audio with its gains) into `DIR/SPLIT-SSSSS-of-NNNNN.array_record`. A record holds a
block of `per_record` consecutive examples (about 128 KB), every column's raw bytes one after another;
columns of one shape per example are stored in the smallest integer type that holds them exactly, columns of
clips of different lengths (audio) as their lengths then their samples. Examples are shuffled once when
written (`write_seed`), so a block mixes the source's classes and speakers even when it lists them in order;
text windows keep their order and are stored as the token stream they are cut from. `manifest.json` holds the
shapes, dtypes, counts, each shard's size and SHA-256, the data config and the run meta (vocabulary,
fingerprint) they came from.

Training reads through grain's ArrayRecordDataSource: the batch's records are read in parallel, decoded once
and kept in a small cache of blocks, so resident memory stays flat however large the dataset is. The epoch
order is block-aware (see pipeline.Stream); each process trains on the examples of its own shards.
"""

import hashlib
import json
import os
import pathlib
import shutil
import threading
from importlib import metadata

import numpy as np

from genjax.data import pipeline, text
from genjax.errors import UserError

FORMAT = "genjax-prepared-1"
MANIFEST = "manifest.json"
RECORD_BYTES = 128 * 1024   # a decoded block's size: large enough that reads are few, small enough to cache many
MAX_PER_RECORD = 1024
SHARD_BYTES = 64 * 2 ** 20  # at most this much in one file (a shard is the unit of the per-process split)
CACHE_BLOCKS = 256          # decoded blocks kept: 4x the 32-block window of the epoch order, two threads each
# One record a group, so each is read alone; uncompressed: zstd:1 shrinks MNIST 4.7x but halves read speed
# (32 random records: 3.3 ms uncompressed, 5.7 ms zstd:1, 8.7 ms brotli, the default; dev-2c 2026-12-04).
WRITER_OPTIONS = "group_size:1,uncompressed"


def genjax_version():
  return metadata.version("genjax")


# ----------------------------------------------------------------------------- writing

def write(data, out, data_config, modality, shards=0, seed=0, log=print):
  """`data.train` and `data.eval` (a tasks.common.Data) as a prepared dataset in `out`, complete or not at
  all: written into a sibling folder and renamed. Refuses a non-empty `out`."""
  out = pathlib.Path(out).absolute()
  if out.exists() and (not out.is_dir() or any(out.iterdir())):
    raise UserError(f"{out} already exists and is not empty; pick a new --out or delete it first")
  tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
  shutil.rmtree(tmp, ignore_errors=True)
  tmp.mkdir(parents=True)
  try:
    manifest = {"format": FORMAT, "genjax": genjax_version(), "modality": modality, "data": data_config,
                "meta": data.meta, "write_seed": seed,
                "splits": {name: _write_split(tmp, name, source, shards, seed, log)
                           for name, source in (("train", data.train), ("eval", data.eval))}}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
    if out.exists():
      out.rmdir()
    tmp.rename(out)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  return out


def _write_split(folder, name, source, shards, seed, log):
  """One split's shards; returns its manifest entry."""
  if isinstance(source, text.Windows):  # the token stream, in order: windows are cut from it when read
    kind, length, columns = type(source).__name__.lower(), source.length, {"ids": np.asarray(source.ids)}
    order, overlap = None, source.length - 1  # record r also holds the next block's first tokens: every
    read = lambda idx: {"ids": columns["ids"][idx[0]:idx[-1] + 1 + overlap]}  # noqa: E731  window is in one
  else:
    kind, length, columns, overlap = "examples", None, getattr(source, "arrays", None) or {}, 0
    order = np.random.default_rng(seed).permutation(len(source))
    read = lambda idx: pipeline.read(source, order[idx])  # noqa: E731
  n = len(order) if order is not None else len(columns["ids"])
  if not n:
    raise UserError(f"the {name} split is empty; there is nothing to prepare")
  first = read(np.arange(min(n, 1)))
  specs = {k: _spec(v, columns.get(k)) for k, v in first.items()}
  per = max(RECORD_BYTES // sum(s["row_bytes"] for s in specs.values()), 1)
  per = per if order is None else min(per, MAX_PER_RECORD)  # a token stream's blocks hold 32k tokens
  records = -(-n // per)
  count = shards or max(1, -(-records * RECORD_BYTES // SHARD_BYTES))
  if name == "eval":  # read whole by every process (pipeline.eval_batches): its shards only bound file sizes
    count = min(count, records)
  if count > records:
    raise UserError(f"{name}: {count} shards for {records} records of {per} examples; ask for at most {records}")
  bounds = np.linspace(0, records, count + 1).round().astype(int)
  entries = []
  for s in range(count):
    path = folder / f"{name}-{s:05d}-of-{count:05d}.array_record"
    _write_shard(path, (read(np.arange(r * per, min((r + 1) * per, n))) for r in range(bounds[s], bounds[s + 1])),
                 specs)
    entries.append({"file": path.name, "records": int(bounds[s + 1] - bounds[s]), "bytes": path.stat().st_size,
                    "sha256": _sha256(path)})
  log(f"{name}: {n} {'tokens' if order is None else 'examples'} in {records} records of {per} over {count} shards")
  return {"kind": kind, "length": length, "count": int(n), "per_record": per, "overlap": overlap, "columns": specs,
          "shards": entries, "source_index": None if order is None else "permutation(write_seed)"}


def _spec(sample, whole):
  """How a column is stored: its dtype and shape per example, the stored dtype, ragged or not."""
  sample = np.asarray(sample)
  ragged = sample.dtype == object
  values = np.asarray(sample[0]) if ragged else sample
  dtype = values.dtype
  stored = _narrowest(whole if whole is not None and not ragged else None, dtype)
  shape = [] if ragged else list(values.shape[1:])
  row = 8 + values.nbytes if ragged else int(np.prod(shape, dtype=np.int64)) * dtype.itemsize  # as decoded
  return {"dtype": dtype.str, "stored": np.dtype(stored).str, "shape": shape, "ragged": ragged, "row_bytes": row}


def _narrowest(values, dtype):
  """uint8 or uint16 when every value of the whole in-memory column fits exactly, else the column's own dtype."""
  if values is None or not np.issubdtype(dtype, np.number) or len(values) == 0:
    return dtype
  values = np.asarray(values)
  for small in (np.uint8, np.uint16):
    if np.dtype(small).itemsize < dtype.itemsize and np.array_equal(values.astype(small), values):
      return np.dtype(small)
  return dtype


def _write_shard(path, blocks, specs):
  from array_record.python.array_record_module import ArrayRecordWriter
  writer = ArrayRecordWriter(str(path), WRITER_OPTIONS)
  try:
    for block in blocks:
      writer.write(encode(block, specs))
  finally:
    writer.close()


def encode(block, specs):
  """A block of examples (dict of arrays) -> one record's bytes, columns in manifest order."""
  parts = []
  for key, spec in specs.items():
    column = block[key]
    if spec["ragged"]:
      parts.append(np.asarray([len(c) for c in column], np.int64).tobytes())
      parts += [np.asarray(c, spec["stored"]).tobytes() for c in column]
    else:
      parts.append(np.ascontiguousarray(np.asarray(column).astype(spec["stored"])).tobytes())
  return b"".join(parts)


def layout(specs):
  """The manifest's column specs parsed once, for `decode`: (key, stored dtype, dtype, row shape, values a row,
  ragged) per column (parsing them per record cost more than reading the record's bytes)."""
  return [(key, np.dtype(s["stored"]), np.dtype(s["dtype"]), tuple(s["shape"]), int(np.prod(s["shape"])),
           s["ragged"]) for key, s in specs.items()]


def decode(record, rows, columns):
  """One record's bytes -> dict of arrays of its `rows` examples, views of the bytes in the stored dtype
  (ragged columns: object arrays of clips); `columns` is `layout(specs)`."""
  out, at = {}, 0
  for key, stored, dtype, shape, size, ragged in columns:
    if ragged:
      lengths = np.frombuffer(record, np.int64, rows, at)
      at += 8 * rows
      values = np.frombuffer(record, stored, int(lengths.sum()), at).astype(dtype, copy=False)
      at += values.size * stored.itemsize
      clips = np.empty(rows, object)
      clips[:] = np.split(values, np.cumsum(lengths)[:-1])
      out[key] = clips
    else:
      out[key] = np.frombuffer(record, stored, rows * size, at).reshape(rows, *shape)  # cast when cached
      at += rows * size * stored.itemsize
  if at != len(record):
    raise ValueError(f"record holds {len(record)} bytes, the manifest's columns {at}")
  return out


def _sha256(path):
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(2 ** 20), b""):
      h.update(chunk)
  return h.hexdigest()


# ----------------------------------------------------------------------------- reading

def open_manifest(folder):
  """The manifest of a prepared folder, with its format, genjax version and shard files checked."""
  folder = pathlib.Path(folder).expanduser().absolute()
  path = folder / MANIFEST
  if not path.is_file():
    raise UserError(f"{path} does not exist: {folder} is not a prepared dataset; write one with "
                    f"`genjax prepare --config FILE.py:VARIANT --out {folder}`")
  raw = path.read_bytes()
  try:
    manifest = json.loads(raw)
  except ValueError as e:
    raise UserError(f"{path} is not valid JSON ({e}); prepare the data again with `genjax prepare`") from None
  if manifest.get("format") != FORMAT or manifest.get("genjax") != genjax_version():
    raise UserError(f"{path} was written by genjax {manifest.get('genjax')} ({manifest.get('format')}); this is "
                    f"genjax {genjax_version()} ({FORMAT}): prepare the data again with this genjax")
  for split in manifest["splits"].values():
    for shard in split["shards"]:
      _check_shard(folder / shard["file"], shard)
  manifest["path"], manifest["sha256"] = str(folder), hashlib.sha256(raw).hexdigest()
  return manifest


def _check_shard(path, shard):
  if not path.is_file():
    raise UserError(f"{path} is missing: the prepared dataset is incomplete; restore it or prepare it again")
  if path.stat().st_size != shard["bytes"]:
    raise UserError(f"{path} holds {path.stat().st_size} bytes, the manifest {shard['bytes']}: the shard is "
                    f"truncated or was replaced; restore it or prepare the data again")
  if _sha256(path) != shard["sha256"]:
    raise UserError(f"{path} does not match its SHA-256 in the manifest: the shard is corrupt; restore it or "
                    f"prepare the data again")


def check_matches(manifest, data_config, modality, binary):
  """The prepared data is what the config asks for: same modality, data settings and eval form."""
  wanted, have = ({k: v for k, v in _jsonish(d).items() if k != "prepared"} for d in (data_config, manifest["data"]))
  if manifest["modality"] != modality:
    raise UserError(f"{manifest['path']} holds {manifest['modality']} data, the config is a {modality} model; "
                    f"point --config.data.prepared at a {modality} dataset")
  diff = sorted(k for k in set(wanted) | set(have) if wanted.get(k) != have.get(k))
  if diff:
    pairs = ", ".join(f"data.{k}={have.get(k)!r} there, {wanted.get(k)!r} here" for k in diff)
    raise UserError(f"{manifest['path']} was prepared from other data ({pairs}); prepare this config's data "
                    f"with `genjax prepare` or set the config's data keys to match")
  if manifest["meta"].get("binarized_eval", binary) != binary:
    raise UserError(f"{manifest['path']} holds {'binarized' if not binary else 'raw'} held-out images, this "
                    f"model scores {'binary' if binary else 'raw'} ones; prepare the data with this model's config")


def _jsonish(value):
  return json.loads(json.dumps(value))


def split_source(manifest, name):
  """A random-access source of split `name`: a Table of examples, or text windows over the token stream."""
  split = manifest["splits"][name]
  table = Table(manifest["path"], name, split)
  if split["kind"] == "examples":
    return table
  windows = {"windows": text.Windows, "chunks": text.Chunks}[split["kind"]]
  return windows(Column(table, "ids"), split["length"])


class Table:
  """One split of a prepared dataset: random access to examples, read a block of `per_record` at a time.

  Decoded blocks live in slots of one preallocated array per column (CACHE_BLOCKS blocks, least recently
  used evicted), so a batch is one fancy-index gather per column whatever the blocks it spans. `block`
  tells pipeline.Stream which examples share a record (examples [r * block, (r + 1) * block) are record r);
  `process_slice` gives each process the examples of its own shards.
  """

  def __init__(self, folder, name, split):
    import grain
    self.folder, self.name, self.count, self.block = folder, name, split["count"], split["per_record"]
    self.specs, self.shards, self.overlap = split["columns"], split["shards"], split["overlap"]
    self._columns = layout(self.specs)
    self.records = grain.sources.ArrayRecordDataSource([os.path.join(folder, s["file"]) for s in self.shards])
    self.stride = self.block + self.overlap  # slot s holds rows [s * stride, (s + 1) * stride)
    self._slab = {k: np.empty((CACHE_BLOCKS * self.stride, *c["shape"]), object if c["ragged"] else c["dtype"])
                  for k, c in self.specs.items()}
    self._slot = np.full(-(-self.count // self.block), -1, np.int64)  # record -> slot, -1: not cached
    self._record = np.full(CACHE_BLOCKS, -1, np.int64)                # slot -> record
    self._used = np.zeros(CACHE_BLOCKS, np.int64)                     # slot -> when last read
    self._clock, self._lock = 0, threading.Lock()

  def __len__(self):
    return self.count

  def __getitem__(self, i):
    return {k: v[0] for k, v in self.read(np.asarray([i])).items()}

  def read(self, indices):
    """Examples `indices` as a dict of arrays: each record they fall in read once, decoded once."""
    indices = np.asarray(indices, np.int64)
    if indices.size and not 0 <= indices.min() <= indices.max() < self.count:
      raise IndexError(f"{self.name}: index outside the {self.count} examples")
    return self._gather(*np.divmod(indices, self.block), lambda slab, rows: slab[rows])

  def windows(self, starts, length):
    """Rows [start, start + length) for each of `starts` (a token stream's windows): one gather, as every
    window lies in the record it starts in (records overlap by `overlap` rows)."""
    starts = np.asarray(starts, np.int64)
    if length - 1 > self.overlap or (starts.size and not 0 <= starts.min() <= starts.max() <= self.count - length):
      raise IndexError(f"{self.name}: windows of {length} outside the {self.count} rows or records")
    return self._gather(*np.divmod(starts, self.block), lambda slab, rows: slab[rows[:, None] + np.arange(length)])

  def _gather(self, records, offsets, take):
    """take(slab, rows) of every column, rows = where (record, offset) lie in the cache, once the missing
    records are read (outside the lock, one at a time: grain's parallel __getitems__ is slower here) and
    stored; a block another thread evicts meanwhile is read again."""
    half = CACHE_BLOCKS // 2
    if len(records) > half and len(np.unique(records)) > half:  # more blocks than the cache keeps: in parts
      parts = [self._gather(records[p], offsets[p], take) for p in np.array_split(np.arange(len(records)),
                                                                                 -(-len(records) // half))]
      return {k: np.concatenate([p[k] for p in parts]) for k in self.specs}
    while True:
      with self._lock:
        slots = self._slot[records]
        self._clock += 1
        if slots.min() >= 0:
          self._used[slots] = self._clock
          rows = slots * self.stride + offsets
          return {k: take(slab, rows) for k, slab in self._slab.items()}
        self._used[slots[slots >= 0]] = self._clock  # the cached blocks of this batch are not the ones to evict
        missing = np.unique(records[slots < 0]).tolist()
      raw = [self.records[r] for r in missing]
      with self._lock:
        for record, data in zip(missing, raw):
          if self._slot[record] < 0:
            self._store(record, data)

  def _store(self, record, raw):
    """Decode `record` into the least recently read slot (under the lock)."""
    slot = int(np.argmin(self._used))
    if self._record[slot] >= 0:
      self._slot[self._record[slot]] = -1
    rows = min(self.stride, self.count - record * self.block)
    for key, column in decode(raw, rows, self._columns).items():
      self._slab[key][slot * self.stride:slot * self.stride + rows] = column
    self._record[slot], self._slot[record], self._used[slot] = record, slot, self._clock

  def process_slice(self, process_index, process_count):
    """This process's examples: those of shards process_index, process_index + P, ... (whole records)."""
    if len(self.shards) % process_count:
      raise UserError(f"{self.folder}: the {self.name} split has {len(self.shards)} shards, which do not split "
                      f"over {process_count} processes; prepare it again with --shards a multiple of {process_count}")
    starts = np.cumsum([0] + [s["records"] for s in self.shards]) * self.block
    mine = [np.arange(starts[s], min(starts[s + 1], self.count))
            for s in range(process_index, len(self.shards), process_count)]
    out = np.concatenate(mine) if mine else np.zeros(0, np.int64)
    if not len(out):
      raise UserError(f"{self.folder}: process {process_index} of {process_count} has no {self.name} examples in "
                      f"its shards; prepare the data again with fewer shards or train on fewer processes")
    return out


class Column:
  """One column of a Table as an array: numpy-style indexing by an int, a slice or an array of ints."""

  def __init__(self, table, key):
    self.table, self.key, self.block = table, key, table.block

  def __len__(self):
    return len(self.table)

  def __getitem__(self, index):
    if isinstance(index, slice):
      index = np.arange(*index.indices(len(self)))
    index = np.asarray(index)
    return self.table.read(index.reshape(-1))[self.key].reshape(*index.shape, *self.table.specs[self.key]["shape"])

  def windows(self, starts, length):
    return self.table.windows(starts, length)[self.key]

  def process_slice(self, process_index, process_count):
    return self.table.process_slice(process_index, process_count)


def load(config, transforms, binary):
  """The prepared data `config.data.prepared` names, as a tasks.common.Data: training and held-out sources
  read from the shards, the modality's transforms, the run meta it was prepared with (plus which prepared
  dataset, by its manifest's SHA-256). `test` is None: sample-quality metrics need the in-memory data."""
  from genjax.tasks import common
  manifest = open_manifest(config.data.prepared)
  check_matches(manifest, config.data.to_dict(), config.modality, binary)
  meta = dict(manifest["meta"], prepared={"path": manifest["path"], "manifest_sha256": manifest["sha256"]})
  transform, eval_transform = transforms
  return common.Data(train=split_source(manifest, "train"), eval=split_source(manifest, "eval"),
                     transform=transform, eval_transform=eval_transform, meta=meta, test=None)
