import gzip
import struct
import wave

import numpy as np
import pytest

from genjax.data import audio, image, pipeline, sources, text
from genjax.errors import UserError


def write_idx(path, array):
  codes = {np.uint8: 0x08, np.int32: 0x0C}
  header = bytes([0, 0, codes[array.dtype.type], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
  with gzip.open(path, "wb") as f:
    f.write(header + array.astype(array.dtype.newbyteorder(">")).tobytes())


def test_idx_round_trip(tmp_path):
  images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
  write_idx(tmp_path / "x.gz", images)
  np.testing.assert_array_equal(sources.read_idx(tmp_path / "x.gz"), images)
  ints = np.arange(-3, 3, dtype=np.int32)
  write_idx(tmp_path / "y.gz", ints)
  np.testing.assert_array_equal(sources.read_idx(tmp_path / "y.gz"), ints)


def test_idx_corrupt_header_and_truncation(tmp_path):
  (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x01\x02\x03\x04junk"))
  with pytest.raises(UserError, match="no valid IDX header"):
    sources.read_idx(tmp_path / "bad.gz")
  write_idx(tmp_path / "ok.gz", np.zeros((4, 2, 2), np.uint8))
  raw = gzip.decompress((tmp_path / "ok.gz").read_bytes())
  (tmp_path / "short.gz").write_bytes(gzip.compress(raw[:-3]))
  with pytest.raises(UserError, match="truncated"):
    sources.read_idx(tmp_path / "short.gz")


def test_real_mnist_loads_and_batches(shared_data):
  test = sources.mnist(shared_data / "mnist", "test")
  assert len(test) == 10_000
  it = pipeline.train_iterator(test, image.transform((28, 28, 1), binarize=True), 16, seed=0, threads=1)
  batch = next(it)
  assert batch["image"].shape == (16, 28, 28, 1) and batch["image"].dtype == np.float32
  assert set(np.unique(batch["image"])) <= {0.0, 1.0} and batch["label"].shape == (16,)


def test_image_of_wrong_shape_is_a_user_error():
  with pytest.raises(UserError, match=r"expects \(28, 28, 1\)"):
    image.transform((28, 28, 1))({"image": np.zeros((2, 32, 32, 3), np.uint8)})


def write_wav(path, samples, rate=8000, channels=1):
  with wave.open(str(path), "wb") as w:
    w.setnchannels(channels)
    w.setsampwidth(2)
    w.setframerate(rate)
    w.writeframes((np.asarray(samples) * 32767).astype("<i2").tobytes())


def test_wav_folder_with_manifest(tmp_path):
  write_wav(tmp_path / "a.wav", np.linspace(-0.5, 0.5, 100))
  write_wav(tmp_path / "b.wav", np.zeros(50))
  (tmp_path / "MANIFEST.tsv").write_text("file\tdigit\tsplit\na.wav\t3\ttrain\nb.wav\t4\ttrain\nc.wav\t1\ttest\n")
  src = sources.wav_folder(tmp_path, "train", rate=8000)
  assert len(src) == 2 and src[0]["label"] == 3
  batch = next(pipeline.train_iterator(src, audio.transform(80, train=True), 2, seed=0, threads=1))
  assert batch["audio"].shape == batch["mask"].shape == (2, 80)
  assert sorted(batch["mask"].sum(1).tolist()) == [50, 80]  # b.wav is 50 samples, padded; a.wav cropped


def test_text_sources(tmp_path, monkeypatch):
  assert len(sources.embedded_corpus()) > 100_000
  (tmp_path / "t.txt").write_text("héllo", encoding="utf-8")
  monkeypatch.setenv(sources.DATA_DIR_ENV, str(tmp_path))
  assert sources.read_text_file("t.txt") == "héllo"  # found through GENJAX_DATA_DIR
  (tmp_path / "latin1.txt").write_bytes("h\xe9llo".encode("latin-1"))
  with pytest.raises(UserError, match="not UTF-8"):
    sources.read_text_file("latin1.txt")
  with pytest.raises(UserError, match="not found"):
    sources.read_text_file("missing.txt")
  with pytest.raises(UserError, match="folder"):
    sources.read_text_file(str(tmp_path))


def test_real_tang_poetry_is_chinese_text(shared_data):
  corpus = sources.tang_poetry(shared_data / "chinese-poetry")
  assert len(corpus) > 300_000 and "秦川雄帝宅" in corpus
  assert len(text.Vocab.build(corpus)) > 5000


def test_tfds_by_name_with_mock_data():
  tfds = pytest.importorskip("tensorflow_datasets")
  with tfds.testing.mock_data(num_examples=12):
    src = sources.tfds_source("mnist", "train")
    batch = next(pipeline.train_iterator(src, image.transform((28, 28, 1)), 4, seed=0, threads=1))
    assert batch["image"].shape == (4, 28, 28, 1)
    train, val = sources.tfds_text("tiny_shakespeare", "text")
    assert isinstance(train, str) and train and val


def test_unknown_tfds_dataset_is_a_user_error(tmp_path, monkeypatch):
  monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
  with pytest.raises(UserError, match="not available"):
    sources.tfds_source("mnist", "train")


def write_png(path, array):
  from PIL import Image
  Image.fromarray(array).save(path)


def test_image_folder_reads_images_and_names_bad_files(tmp_path):
  (tmp_path / "train").mkdir()
  for i in range(3):
    write_png(tmp_path / "train" / f"{i}.png", np.full((6, 5), 40 * i, np.uint8))
  src = sources.image_folder(str(tmp_path), "train")
  assert src.arrays["image"].shape == (3, 6, 5, 1) and src[2]["image"][0, 0, 0] == 80
  (tmp_path / "train" / "notes.txt").write_text("not an image")
  with pytest.raises(UserError, match="notes.txt is not a readable image"):
    sources.image_folder(str(tmp_path), "train")
  (tmp_path / "train" / "notes.txt").unlink()
  write_png(tmp_path / "train" / "3.png", np.zeros((6, 5, 3), np.uint8))
  with pytest.raises(UserError, match=r"3.png: uint8 image of shape \(6, 5, 3\), unlike 0.png"):
    sources.image_folder(str(tmp_path), "train")
  with pytest.raises(UserError, match="does not exist"):
    sources.image_folder(str(tmp_path), "test")


def test_real_digits_split_and_levels(shared_data):
  train, test = sources.digits("sklearn-digits", "train"), sources.digits("sklearn-digits", "test")
  assert len(train) == 1497 and len(test) == 300 and train[0]["image"].shape == (8, 8, 1)
  levels = np.round(train.arrays["image"] / 255 * 16)
  assert np.allclose(levels * 255 / 16, train.arrays["image"], atol=0.5) and levels.max() == 16
