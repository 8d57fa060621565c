"""Files that appear complete or not at all, on a local disk or in a `gs://` bucket.

A run killed mid-write (preemption, Ctrl-C, OOM) leaves at most `NAME.tmp`, never a truncated PNG, WAV, JSON or
cache under the name that readers (and a resumed run) trust. In a bucket an object upload is already all or
nothing (the object exists only once its upload is finalized), so it is written in place.
"""

import io
import os
import pathlib

from etils import epath


def cache_dir(name):
  """GENJAX_CACHE_DIR/name (default ~/.cache/genjax/name): what genjax keeps between runs on this machine."""
  root = os.environ.get("GENJAX_CACHE_DIR") or pathlib.Path.home() / ".cache" / "genjax"
  return pathlib.Path(root) / name


def is_url(path):
  """An object-store location (gs://BUCKET/...), written through etils.epath instead of os."""
  return "://" in os.fspath(path)


def write_atomic(path, content):
  """`content` (str, bytes, or a callable that writes into a binary file object) at `path`; returns `path`."""
  path = os.fspath(path)
  if callable(content):
    buffer = io.BytesIO()
    content(buffer)
    content = buffer.getvalue()
  data = content.encode("utf-8") if isinstance(content, str) else content
  if is_url(path):
    epath.Path(path).write_bytes(data)
    return path
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(f"{path}.tmp", "wb") as f:
    f.write(data)
  os.replace(f"{path}.tmp", path)
  return path
