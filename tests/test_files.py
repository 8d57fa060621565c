"""write_atomic: the final name holds a complete file or the previous one, never a partial write."""

import pytest

from genjax import files


def test_text_bytes_and_writer_callables_land_whole(tmp_path):
  assert open(files.write_atomic(tmp_path / "a" / "t.txt", "héllo"), encoding="utf-8").read() == "héllo"
  assert open(files.write_atomic(tmp_path / "b.bin", b"\x00\x01"), "rb").read() == b"\x00\x01"
  assert open(files.write_atomic(tmp_path / "c.bin", lambda f: f.write(b"xy")), "rb").read() == b"xy"
  assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["b.bin", "c.bin", "t.txt"]


def test_a_writer_that_fails_leaves_the_previous_file(tmp_path):
  path = files.write_atomic(tmp_path / "x.png", b"old")

  def half_then_crash(f):
    f.write(b"partial")
    raise OSError("disk full")

  with pytest.raises(OSError, match="disk full"):
    files.write_atomic(path, half_then_crash)
  assert open(path, "rb").read() == b"old"
  assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]
