"""Media storage on S3 with one client per process.

django-storages' S3Storage builds a boto3 session and resource per thread. Under ASGI every
request's sync code runs on a fresh thread, so each file part paid for a new session: botocore
reloads its service models each time (71 % of Daphne's upload time against a local S3 server,
docs/BENCHMARKS.md). botocore clients are thread-safe, and S3Storage already shares its Bucket
resource across threads, so the whole process shares one connection here.
"""

import threading
from typing import Any

from storages.backends.s3 import S3Storage


class SharedClientS3Storage(S3Storage):  # type: ignore[misc]
    _lock = threading.Lock()

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self._shared_connection: Any = None

    @property
    def connection(self) -> Any:
        if self._shared_connection is None:
            with self._lock:
                if self._shared_connection is None:
                    self._shared_connection = super().connection
        return self._shared_connection

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()
        state.pop("_shared_connection", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._shared_connection = None
