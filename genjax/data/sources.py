"""Where examples come from: the embedded corpus, local files, and TFDS by name.

Every loader returns plain numpy/str data; a source for grain is anything with `__len__` and `__getitem__`
(`ArraySource` here, or what `tfds.data_source` returns). Local paths resolve against one setting,
GENJAX_DATA_DIR, which defaults to ../shared/data beside the checkout when that folder exists.
"""

import glob
import gzip
import json
import os
import pathlib
import struct
import wave

import numpy as np

from genjax.errors import UserError

DATA_DIR_ENV = "GENJAX_DATA_DIR"


def data_dir():
  """The folder relative data paths live in, or None when there is none."""
  if os.environ.get(DATA_DIR_ENV):
    return pathlib.Path(os.environ[DATA_DIR_ENV])
  for root in (pathlib.Path(__file__).resolve().parents[2], pathlib.Path.cwd()):
    candidate = root.parent / "shared" / "data"
    if candidate.is_dir():
      return candidate
  return None


def resolve(path):
  """An existing path: absolute, relative to the working directory, or relative to the data dir."""
  if not path:
    raise UserError("no data path set: pass --config.data.path=FILE_OR_DIR")
  p = pathlib.Path(path).expanduser()
  tried = [p]
  if not p.is_absolute() and not p.exists() and data_dir() is not None:
    tried.append(data_dir() / p)
  for candidate in tried:
    if candidate.exists():
      return candidate
  where = " or ".join(str(t) for t in tried)
  raise UserError(f"data path {path!r} not found (looked at {where}); set {DATA_DIR_ENV} to the folder "
                  f"that holds it or pass --config.data.path=ABSOLUTE_PATH")


def read_text_file(path):
  p = resolve(path)
  if p.is_dir():
    raise UserError(f"{p} is a folder, but data.source='text' needs one UTF-8 text file")
  try:
    text = p.read_text(encoding="utf-8")
  except UnicodeDecodeError as e:
    raise UserError(f"{p} is not UTF-8 text ({e.reason} at byte {e.start}); convert it with "
                    f"`iconv -t utf-8` or point --config.data.path at a text file") from None
  except OSError as e:
    raise UserError(f"cannot read {p}: {e.strerror}; check the path and its permissions") from None
  if "\x00" in text:
    raise UserError(f"{p} holds NUL bytes: it looks like a binary file, not text; point --config.data.path at "
                    f"a UTF-8 text file")
  return text


def embedded_corpus():
  """English prose that ships inside Python itself: the topics of the language reference (~450k chars).

  Joined in sorted key order so the corpus is the same on every run of one Python version.
  """
  from pydoc_data import topics
  return "\n\n".join(topics.topics[k].strip() for k in sorted(topics.topics)) + "\n"


def tang_poetry(path):
  """chinese-poetry JSON files (a list of {title, paragraphs}) as one text: title, lines, blank line."""
  p = resolve(path)
  files = sorted(glob.glob(str(p / "*.json"))) if p.is_dir() else [str(p)]
  if not files:
    raise UserError(f"no .json poetry files in {p}; point --config.data.path at the chinese-poetry folder")
  poems = []
  for f in files:
    try:
      with open(f, encoding="utf-8") as fh:
        items = json.load(fh)
      poems += [f"{x['title']}\n" + "\n".join(x["paragraphs"]) + "\n\n" for x in items]
    except (ValueError, KeyError, TypeError) as e:
      raise UserError(f"{f} is not chinese-poetry JSON (a list of {{title, paragraphs}}): {e}") from None
  return "".join(poems)


def tfds_source(name, split):
  """A random-access TFDS split (prepared ArrayRecord; reading needs no TensorFlow)."""
  import tensorflow_datasets as tfds
  try:
    return tfds.data_source(name, split=split)
  except Exception as e:  # tfds raises many types for "not prepared" and "unknown name"
    raise UserError(f"TFDS dataset {name!r} split {split!r} is not available ({type(e).__name__}: {e}); "
                    f"prepare it once with the [prep] extra (`tfds build {name}`) or pick a local source") from None


def tfds_text(name, key):
  """Train and validation text of a TFDS text dataset, e.g. tiny_shakespeare (feature 'text')."""
  def read(split):
    src = tfds_source(name, split)
    return "".join(_as_str(src[i][key]) for i in range(len(src)))
  return read("train"), read("validation")


def _as_str(x):
  return x.decode("utf-8") if isinstance(x, (bytes, np.bytes_)) else str(x)


class ArraySource:
  """Random access over a dict of equally long arrays, one example a row."""

  def __init__(self, arrays):
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
      raise ValueError(f"arrays differ in length: {lengths}")
    self.arrays = arrays

  def __len__(self):
    return len(next(iter(self.arrays.values())))

  def __getitem__(self, i):
    return {k: v[i] for k, v in self.arrays.items()}


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
  """An IDX file (MNIST's format, optionally gzipped) as a numpy array, with its header checked."""
  p = resolve(path)
  opener = gzip.open if p.suffix == ".gz" else open
  try:
    with opener(p, "rb") as f:
      raw = f.read()
  except (OSError, EOFError) as e:
    raise UserError(f"cannot read IDX file {p}: {e}; re-download or restore it from the dataset's checksums")
  if len(raw) < 4 or raw[0:2] != b"\0\0" or raw[2] not in _IDX_DTYPES:
    raise UserError(f"{p} has no valid IDX header (magic {raw[:4].hex()}); it is not an MNIST IDX file")
  ndim = raw[3]
  dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
  dtype = np.dtype(_IDX_DTYPES[raw[2]])
  body = raw[4 + 4 * ndim:]
  if len(body) != int(np.prod(dims)) * dtype.itemsize:
    raise UserError(f"{p}: header says shape {dims} but the file holds {len(body)} bytes of data; "
                    f"the file is truncated or corrupt")
  return np.frombuffer(body, dtype).reshape(dims).astype(dtype.newbyteorder("="))


def mnist(path, split):
  """MNIST from the four IDX .gz files in `path`: {'image': uint8 [N,28,28,1], 'label': int32 [N]}."""
  prefix = {"train": "train", "test": "t10k"}[split]
  d = resolve(path)
  images = read_idx(d / f"{prefix}-images-idx3-ubyte.gz")
  labels = read_idx(d / f"{prefix}-labels-idx1-ubyte.gz")
  if images.ndim != 3 or len(images) != len(labels):
    raise UserError(f"MNIST files in {d} disagree: images {images.shape}, labels {labels.shape}")
  return ArraySource({"image": images[..., None], "label": labels.astype(np.int32)})


DIGITS_TEST = 300  # the last 300 of the 1,797 scikit-learn digits are held out


def digits(path, split):
  """scikit-learn's 8x8 digits (values 0-16) from `digits.csv.gz`, as uint8 round(v * 255 / 16): 17 levels."""
  p = resolve(path) / "digits.csv.gz"
  try:
    table = np.loadtxt(p, delimiter=",", dtype=np.int64)
  except (OSError, ValueError, EOFError) as e:
    raise UserError(f"cannot read {p} ({e}); restore it from the dataset's checksums") from None
  if table.ndim != 2 or table.shape[1] != 65 or table[:, :64].min() < 0 or table[:, :64].max() > 16:
    raise UserError(f"{p}: expected rows of 64 pixel values 0-16 and a label, got shape {table.shape}")
  rows = table[:-DIGITS_TEST] if split == "train" else table[-DIGITS_TEST:]
  images = np.round(rows[:, :64] * 255 / 16).astype(np.uint8).reshape(-1, 8, 8, 1)
  return ArraySource({"image": images, "label": rows[:, 64].astype(np.int32)})


def image_folder(path, split):
  """Every file in `path`/`split` (sorted) must be an image; [H, W] greyscale gets a channel axis."""
  from PIL import Image, UnidentifiedImageError
  d = resolve(path) / split
  if not d.is_dir():
    raise UserError(f"image folder {d} does not exist; put the {split} images in {d}/")
  files = sorted(f for f in d.iterdir() if f.is_file())
  if not files:
    raise UserError(f"image folder {d} holds no files")
  images = []
  for f in files:
    try:
      with Image.open(f) as im:
        a = np.asarray(im)
    except (UnidentifiedImageError, OSError) as e:
      raise UserError(f"{f} is not a readable image ({type(e).__name__}); remove it from {d}") from None
    a = a[..., None] if a.ndim == 2 else a
    if a.dtype != np.uint8 or (images and a.shape != images[0].shape):
      raise UserError(f"{f}: {a.dtype} image of shape {a.shape}, unlike {files[0].name}; every image in {d} must "
                      f"be 8-bit with the same height, width and channels")
    images.append(a)
  return ArraySource({"image": np.stack(images)})


def read_wav(path):
  """A mono 16-bit PCM WAV as (float32 samples in [-1, 1], sample rate)."""
  try:
    with wave.open(str(path), "rb") as w:
      if w.getsampwidth() != 2 or w.getnchannels() != 1:
        raise UserError(f"{path}: {w.getnchannels()} channel(s) of {8 * w.getsampwidth()}-bit audio; genjax "
                        f"reads mono 16-bit PCM WAV (convert with `sox IN -c 1 -b 16 OUT`)")
      frames = w.readframes(w.getnframes())
      rate = w.getframerate()
  except (wave.Error, EOFError) as e:
    raise UserError(f"{path} is not a readable WAV file ({e}); remove it from the folder or manifest") from None
  return np.frombuffer(frames, "<i2").astype(np.float32) / 32768.0, rate


def wav_folder(path, split, rate, manifest="MANIFEST.tsv"):
  """WAVs listed in a TSV manifest (columns file, digit, split): {'audio': list of arrays, 'label'}.

  Clips keep their own lengths; the audio transform crops or pads them. Every file must have `rate`.
  """
  d = resolve(path)
  rows = _read_manifest(d / manifest)
  rows = [r for r in rows if r.get("split", split) == split]
  if not rows:
    raise UserError(f"{d / manifest} lists no files for split {split!r}")
  audio, labels = [], []
  for r in rows:
    samples, file_rate = read_wav(d / r["file"])
    if file_rate != rate:
      raise UserError(f"{d / r['file']} is sampled at {file_rate} Hz, the config expects {rate} Hz; "
                      f"resample it or set --config.data.rate={file_rate}")
    audio.append(samples)
    labels.append(int(r.get("digit", -1)))
  return ArraySource({"audio": np.array(audio, dtype=object), "label": np.array(labels, np.int32)})


def _read_manifest(path):
  if not path.exists():
    raise UserError(f"no manifest {path}; a WAV folder needs a TSV with at least a 'file' column")
  lines = path.read_text(encoding="utf-8").splitlines()
  header = lines[0].split("\t")
  if "file" not in header:
    raise UserError(f"{path} has no 'file' column (header: {header})")
  return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line.strip()]
