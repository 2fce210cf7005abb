"""Media storage on S3 with one client per process.

django-storages' S3Storage builds a boto3 session and resource per thread. Under ASGI every
request's sync code runs on a fresh thread, so each file part paid for a new session: botocore
reloads its service models each time (71 % of Daphne's upload time against a local S3 server,
docs/BENCHMARKS.md). botocore clients are thread-safe, and S3Storage already shares its Bucket
resource across threads, so the whole process shares one connection here.
"""

import threading
from typing import Any

from botocore.exceptions import ClientError
from django.core.files import File
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

SINGLE_PUT_BYTES = 8 * 1024 * 1024  # a file part is at most 4 MiB and its tag


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

    def _save(self, name: str, content: File[bytes]) -> str:
        """Store a small object with one PutObject.

        django-storages goes through a boto3 resource and s3transfer's manager for every save,
        which for one part cost more CPU than the request itself (docs/BENCHMARKS.md)."""
        if self.gzip or (content.size or 0) > SINGLE_PUT_BYTES:
            return super()._save(name, content)  # type: ignore[no-any-return]
        cleaned: str = clean_name(name)
        key = self._normalize_name(cleaned)
        params = self._get_write_parameters(key, content)
        self.connection.meta.client.put_object(
            Bucket=self.bucket_name, Key=key, Body=content.read(), **params
        )
        return cleaned

    def _open(self, name: str, mode: str = "rb") -> File[bytes]:
        """Open an object for reading as it arrives from the store.

        django-storages' S3File first downloads the whole object into a temporary file held in
        memory (its max_memory_size defaults to 0: never rolled over to disk) through a transfer
        manager; a 4 MiB part being served then costs 4 MiB more (docs/BENCHMARKS.md)."""
        if mode != "rb":
            return super()._open(name, mode)  # type: ignore[no-any-return]
        key = self._normalize_name(clean_name(name))
        try:
            reply = self.connection.meta.client.get_object(Bucket=self.bucket_name, Key=key)
        except ClientError as err:
            if err.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
                raise FileNotFoundError(f"No such object: {name}") from err
            raise
        streamed: File[bytes] = File(reply["Body"], name)
        streamed.size = reply["ContentLength"]
        return streamed

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()
        state.pop("_shared_connection", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._shared_connection = None
