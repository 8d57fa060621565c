"""Where examples come from: the embedded corpus, local files, and TFDS by name.

Every loader returns plain numpy/str data; a source for grain is anything with `__len__` and `__getitem__`
(`ArraySource` here, or what `tfds.data_source` returns); a source with `read(indices)` is read a batch at a time. Local paths resolve against one setting,
GENJAX_DATA_DIR, which defaults to ../shared/data beside the checkout when that folder exists.
"""

import glob
import gzip
import json
import os
import pathlib
import re
import struct

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
  raise UserError(f"data path '{path}' not found (looked at {where}); set {DATA_DIR_ENV} to the folder "
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


def tang_poetry(path, titles=True):
  """chinese-poetry JSON files (a list of {title, paragraphs}) as one text: title (unless `titles` is off),
  lines, blank line."""
  p = resolve(path)
  files = sorted(glob.glob(str(p / "*.json"))) if p.is_dir() else [str(p)]
  if not files:
    raise UserError(f"no .json poetry files in {p}; point --config.data.path at the chinese-poetry folder")
  poems = []
  for f in files:
    try:
      with open(f, encoding="utf-8") as fh:
        items = json.load(fh)
      poems += [(f"{x['title']}\n" if titles else "") + "\n".join(x["paragraphs"]) + "\n\n" for x in items]
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

  def read(self, indices):
    """Rows `indices` of every array: one gather each."""
    return {k: v[indices] for k, v in self.arrays.items()}


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


MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
               "t10k-labels-idx1-ubyte.gz")


def mnist(path, split):
  """MNIST from the four IDX .gz files in `path`: {'image': uint8 [N,28,28,1], 'label': int32 [N]}."""
  prefix = {"train": "train", "test": "t10k"}[split]
  d = resolve(path)
  if not d.is_dir():
    raise UserError(f"{d} is a file; data.path must be a folder holding the four MNIST IDX files "
                    f"{', '.join(MNIST_FILES)}")
  missing = [f for f in MNIST_FILES if f.startswith(prefix) and not (d / f).is_file()]
  if missing:
    raise UserError(f"{d} lacks {' and '.join(missing)}; data.path must be a folder holding the four MNIST "
                    f"IDX files {', '.join(MNIST_FILES)}")
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


ON_RATE_MISMATCH = ("resample", "refuse")
STEREO = ("downmix", "refuse")
ON_BAD = ("error", "skip")


class BadAudioFile(UserError):
  """A file that cannot give a clip: missing, unreadable, truncated, empty. `wav_folder` may skip these.

  A refused sample rate or channel count is a plain UserError instead: the user asked for it, so it never skips.
  """

  def __init__(self, file, reason):
    super().__init__(f"{file} {reason}; restore or re-encode it")
    self.file, self.reason = str(file), reason


def read_audio(path, rate, on_mismatch="resample", stereo="downmix"):
  """One clip in any format libsndfile decodes (WAV, FLAC, OGG, ...) as float32 mono [N] in [-1, 1] at `rate` Hz.

  Another sample rate is resampled with soxr (on_mismatch='resample') or refused ('refuse'); several channels are
  averaged (stereo='downmix') or refused ('refuse'). libsndfile decodes the readable part of a truncated WAV
  without complaint, so its header log is checked: a half-read clip would carry a whole clip's label.
  """
  import soundfile
  _check_choice("on_rate_mismatch", on_mismatch, ON_RATE_MISMATCH)
  _check_choice("stereo", stereo, STEREO)
  p = str(path)
  if not os.path.isfile(p):
    raise BadAudioFile(p, "is a folder, not an audio file" if os.path.isdir(p) else "does not exist")
  try:
    with soundfile.SoundFile(p) as f:
      x = f.read(dtype="float32", always_2d=True)
      file_rate, log = f.samplerate, f.extra_info
  except soundfile.LibsndfileError as e:
    raise BadAudioFile(p, f"is not a readable audio file ({_one_line(e.error_string)})") from None
  except (RuntimeError, OSError, EOFError, ValueError) as e:
    raise BadAudioFile(p, f"is not a readable audio file ({type(e).__name__}: {_one_line(e)})") from None
  truncated = _truncation(log)
  if truncated:
    raise BadAudioFile(p, f"is truncated: its header declares {truncated[0]} bytes of audio, the file holds "
                          f"{truncated[1]}")
  if len(x) == 0:
    raise BadAudioFile(p, "holds no audio samples (a zero-length clip)")
  if not np.isfinite(x).all():
    raise BadAudioFile(p, "holds NaN or infinite samples")
  if x.shape[1] > 1:
    if stereo == "refuse":
      raise UserError(f"{p} has {x.shape[1]} channels; pass --config.data.stereo=downmix to average them to "
                      f"mono, or convert it with `sox IN -c 1 OUT`")
    x = x.mean(axis=1, keepdims=True)
  x = x[:, 0]
  if file_rate != rate:
    if on_mismatch == "refuse":
      raise UserError(f"{p} is sampled at {file_rate} Hz but data.rate is {rate} Hz; set "
                      f"--config.data.rate={file_rate} or --config.data.on_rate_mismatch=resample")
    import soxr
    x = soxr.resample(x, file_rate, rate)
    if len(x) == 0:
      raise BadAudioFile(p, f"is too short to resample from {file_rate} to {rate} Hz (a zero-length clip)")
  return np.clip(x, -1.0, 1.0).astype(np.float32, copy=False)  # float files and resampling may overshoot


def wav_folder(path, split, rate, manifest="MANIFEST.tsv", on_bad="error", on_rate_mismatch="resample",
               stereo="downmix"):
  """Clips listed in a TSV manifest: ArraySource({'audio': object array of float32 [N_i], 'label': int32 [M]}).

  The manifest needs a 'file' column (paths relative to `path`). Rows whose 'split' column differs from `split`
  are left out (without that column every row is in every split); labels come from a 'digit' or 'label' column
  (-1 without one). Clips keep their own lengths and are read with `read_audio`; the transform crops or pads.

  A row whose file is missing, unreadable, truncated or empty stops the load with on_bad='error'. With
  on_bad='skip' it is left out, and the result's `skipped` attribute lists [(file as the manifest names it,
  reason)] (empty when none) for the caller to log; `skipped_summary` makes that one line.
  """
  _check_choice("on_bad", on_bad, ON_BAD)
  d = resolve(path)
  if not d.is_dir():
    raise UserError(f"{d} is a file; data.path must be a folder holding {manifest} and the audio files")
  rows = [r for r in _read_manifest(d / manifest) if r.get("split", split) == split]
  if not rows:
    raise UserError(f"{d / manifest} lists no files for split '{split}'; its 'split' column names the split of "
                    f"each row")
  label_column = next((c for c in ("digit", "label") if c in rows[0]), None)
  audio, labels, skipped = [], [], []
  for r in rows:
    try:
      clip = read_audio(d / r["file"], rate, on_rate_mismatch, stereo)
    except BadAudioFile as e:
      if on_bad == "error":
        raise UserError(f"{e.file} {e.reason}; restore it, drop its row from {d / manifest}, or pass "
                        f"--config.data.on_bad=skip to leave such files out") from None
      skipped.append((r["file"], e.reason))
      continue
    audio.append(clip)
    labels.append(_label(r, label_column, d / manifest))
  if not audio:
    raise UserError(f"none of the {len(rows)} files {d / manifest} lists for split '{split}' is readable: "
                    f"{skipped_summary(skipped, len(rows))}")
  clips = np.empty(len(audio), dtype=object)
  clips[:] = audio  # never np.array(audio): clips of one length would stack into a 2-D float array
  source = ArraySource({"audio": clips, "label": np.array(labels, np.int32)})
  source.skipped = skipped
  return source


def skipped_summary(skipped, total, first=5):
  """One log line for `wav_folder(...).skipped`: the count and the first few files with reasons ('' if none)."""
  if not skipped:
    return ""
  names = ", ".join(f"{f} ({reason})" for f, reason in skipped[:first])
  more = f", and {len(skipped) - first} more" if len(skipped) > first else ""
  return f"skipped {len(skipped)} of {total} audio files: {names}{more}"


def _label(row, column, manifest):
  value = row.get(column, "") if column else ""
  if value == "":
    return -1
  try:
    return int(value)
  except ValueError:
    raise UserError(f"{manifest}: row for {row['file']} has {column} '{value}', not an integer label") from None


def _read_manifest(path):
  if not path.is_file():
    raise UserError(f"no manifest {path}; an audio folder needs a TSV with at least a 'file' column "
                    f"(set --config.data.manifest to its name)")
  try:
    lines = path.read_text(encoding="utf-8").splitlines()
  except (OSError, UnicodeDecodeError) as e:
    raise UserError(f"cannot read manifest {path} ({_one_line(e)}); it must be a UTF-8 TSV") from None
  header = lines[0].split("\t") if lines else []
  if "file" not in header:
    raise UserError(f"{path} has no 'file' column (header: {' | '.join(header)}); the first line of the TSV "
                    f"names its columns")
  rows = []
  for n, line in enumerate(lines[1:], start=2):
    fields = line.split("\t")
    if not line.strip():
      continue
    if len(fields) != len(header) or not fields[header.index("file")]:
      raise UserError(f"{path} line {n} has {len(fields)} tab-separated fields, the header {len(header)}; "
                      f"fix that row")
    rows.append(dict(zip(header, fields)))
  return rows


def _truncation(log):
  """(declared, present) bytes of a WAV data chunk that libsndfile's header log says is cut short, else None."""
  m = re.search(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", log, re.M)
  if not m or int(m.group(1)) in (0, 0xFFFFFFFF):  # 0 / all-ones: size left open by a streaming writer
    return None
  return int(m.group(1)), int(m.group(2))


def _check_choice(key, value, choices):
  if value not in choices:
    raise UserError(f"data.{key}={value!r} must be one of {', '.join(choices)}")


def _one_line(e):
  return " ".join(str(e).split())
