"""Files that appear complete or not at all: written under a temporary name, then renamed.

A run killed mid-write (preemption, Ctrl-C, OOM) leaves at most `NAME.tmp`, never a truncated PNG, WAV, JSON or
cache under the name that readers (and a resumed run) trust.
"""

import io
import os


def write_atomic(path, content):
  """`content` (str, bytes, or a callable that writes into a binary file object) at `path`; returns `path`."""
  path = os.fspath(path)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  if callable(content):
    buffer = io.BytesIO()
    content(buffer)
    content = buffer.getvalue()
  data = content.encode("utf-8") if isinstance(content, str) else content
  with open(f"{path}.tmp", "wb") as f:
    f.write(data)
  os.replace(f"{path}.tmp", path)
  return path
