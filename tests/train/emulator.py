"""A Cloud Storage emulator in this process (a thread), for gs:// workdirs without the network: tests and
benchmarks/bucket_workdir.py."""

import contextlib
import os

from genjax.train import distributed


@contextlib.contextmanager
def storage(bucket):
  """Serves `bucket` on a free localhost port and points gcsfs, google-auth and TensorStore (Orbax's array
  writer) at it through their environment variables, restored on exit; yields "gs://BUCKET"."""
  from gcp_storage_emulator.server import create_server
  port = distributed.free_local_port()
  server = create_server("127.0.0.1", port, in_memory=True, default_bucket=bucket)
  server.start()
  url = f"http://127.0.0.1:{port}"
  settings = dict(STORAGE_EMULATOR_HOST=url, TENSORSTORE_GCS_HTTP_URL=url, NO_GCE_CHECK="True",
                  GOOGLE_AUTH_TOKEN_FOR_TESTING="emulator")
  saved = {k: os.environ.get(k) for k in settings}
  os.environ.update(settings)
  try:
    yield f"gs://{bucket}"
  finally:
    for k, v in saved.items():
      if v is None:
        os.environ.pop(k, None)
      else:
        os.environ[k] = v
    server.stop()
