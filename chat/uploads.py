"""Encrypted file uploads: parts stored as they arrive, offered only when whole (docs/PROTOCOL.md).

Each part is one chunk and its tag (clients cut 4 MiB chunks; at most the protocol's 4 MiB), written
to Django's storage as its own object. Parts may arrive in any order and several at once: a part's
bytes stream from the request into storage in 64 KiB pieces, hashed on the way, before the upload's
row is locked for the few statements that record it. The server never sees a name, type or
plaintext byte.
"""

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import IO, Any, cast

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from agents.models import Device
from chat.actions import supervision
from chat.actions.events import lock_conversation
from chat.actions.membership import is_participant, require_participant
from chat.errors import ChatError
from chat.models import Conversation, Upload, UploadPart
from chat.states import require_open

MAX_PART_BYTES = 4 * 1024 * 1024 + 16  # one chunk of the protocol's 4 MiB at most, and its tag
READ_BYTES = 64 * 1024
ABANDONED_AFTER = timedelta(hours=24)


def _own_upload_locked(upload: Upload, device: Device) -> Upload:
    """Return one's own upload, locked, in a conversation still open to the device."""
    if upload.uploader_id != device.id:
        raise ChatError("not_found", "No such upload here.")
    try:
        upload = (
            Upload.objects.select_for_update(of=("self",))
            .select_related("conversation")
            .get(pk=upload.pk)
        )
    except Upload.DoesNotExist as e:  # cancelled while a part was on its way
        raise ChatError("not_found", "No such upload here.") from e
    require_participant(upload.conversation, device)
    require_open(upload.conversation)
    return upload


def _part_name(upload: Upload, index: int) -> str:
    # Unique per attempt: two requests racing with the same part never write the same object,
    # so the one refused cannot remove the one kept.
    return f"uploads/{upload.conversation_id}/{upload.id}/{index:06d}-{secrets.token_hex(4)}"


class PartReader:
    """Read exactly LENGTH bytes of a part from STREAM, hashing them on the way.

    Storage reads it like a file; a body shorter or longer than it said is invalid_part.
    """

    closed = False  # what Django's File and django-storages ask of a file before reading it

    def __init__(self, stream: Any, length: int) -> None:
        self.stream = stream
        self.size = length  # django-storages asks the size of what it saves
        self.left = length
        self.hash = hashlib.sha512()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False  # storage reads it once, from the start

    def close(self) -> None:
        self.closed = True

    def read(self, size: int = -1) -> bytes:
        wanted = self.left if size is None or size < 0 else min(size, self.left)
        data = self.stream.read(wanted) if wanted else b""
        if len(data) < wanted:
            raise ChatError("invalid_part", "The part is shorter than its Content-Length.")
        self.left -= len(data)
        self.hash.update(data)
        if not self.left and self.stream.read(1):
            raise ChatError("invalid_part", "The part is longer than its Content-Length.")
        return data


def _check_part_fits(upload: Upload, index: int, length: int) -> None:
    """Refuse a part that is already there, or whose size cannot add up to the upload's."""
    if upload.state != Upload.State.UPLOADING:
        raise ChatError("upload_complete", "This upload is complete already.")
    if not 0 <= index < upload.parts:
        raise ChatError("invalid_part", f"This upload has parts 0 to {upload.parts - 1}.")
    if not 16 <= length <= MAX_PART_BYTES:
        raise ChatError("invalid_part", f"A part holds 16 to {MAX_PART_BYTES} bytes.")
    if upload.stored_parts.filter(index=index).exists():
        raise ChatError("part_exists", f"Part {index} has arrived already.")
    missing = upload.parts - upload.received_parts - 1  # after this one
    room = upload.size - upload.received_bytes - length
    if room < 16 * missing or (missing == 0 and room != 0):
        raise ChatError("size_mismatch", "The parts do not add up to the declared size.")


def do_start_upload(
    conversation: Conversation, device: Device, size: object, parts: object
) -> Upload:
    """Begin an upload of SIZE ciphertext bytes in PARTS parts, within the tenant's limits."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 16:
        raise ChatError("invalid_size", "size must be the ciphertext's length in bytes.")
    if not isinstance(parts, int) or isinstance(parts, bool) or parts < 1:
        raise ChatError("invalid_size", "parts must be a positive number.")
    if size > parts * MAX_PART_BYTES or size < parts * 16:
        raise ChatError("invalid_size", "size does not fit that number of parts.")
    tenant = conversation.tenant
    if size - 16 * parts > tenant.max_file_bytes:
        limit = tenant.max_file_bytes // (1024 * 1024)
        raise ChatError("file_too_large", f"Files are limited to {limit} MB here.")
    with transaction.atomic():
        conversation = lock_conversation(conversation)
        supervision.require_may_act(require_participant(conversation, device))
        require_open(conversation)
        used = conversation.uploads.aggregate(total=Sum("size"))["total"] or 0
        if used + size > tenant.conversation_quota_bytes:
            raise ChatError("quota_exceeded", "This conversation has no room for more files.")
        return Upload.objects.create(
            conversation=conversation, uploader=device, size=size, parts=parts
        )


def upload_of(upload_id: Any, device: Device) -> Upload:
    """Return an upload of a conversation this device takes part in, else raise not_found."""
    try:
        upload = Upload.objects.select_related("conversation__tenant").get(pk=upload_id)
    except (Upload.DoesNotExist, ValueError, TypeError, ValidationError) as e:
        raise ChatError("not_found", "No such upload here.") from e
    if not is_participant(upload.conversation_id, device):
        raise ChatError("not_found", "No such upload here.")
    return upload


def do_store_part(upload: Upload, device: Device, index: int, body: Any, length: int) -> Upload:
    """Store part INDEX of one's own upload from BODY, a stream of LENGTH bytes.

    Parts come in any order, several at once: the bytes go to storage first, outside any lock,
    then the upload's row is locked to check again and record the part (docs/PROTOCOL.md).
    """
    if upload.uploader_id != device.id:
        raise ChatError("not_found", "No such upload here.")
    require_open(upload.conversation)
    _check_part_fits(upload, index, length)
    reader = PartReader(body, length)
    name = _part_name(upload, index)
    try:
        # Storage only reads it (and asks its size): a file-like object, not a full IO.
        name = default_storage.save(name, File(cast(IO[bytes], reader)))
    except BaseException:
        default_storage.delete(name)  # what was written before the body fell short
        raise
    try:
        with transaction.atomic():
            upload = _own_upload_locked(upload, device)
            _check_part_fits(upload, index, length)  # parts stored meanwhile count now
            UploadPart.objects.create(
                upload=upload,
                index=index,
                size=length,
                sha512=reader.hash.hexdigest(),
                name=name,
            )
            upload.received_parts += 1
            upload.received_bytes += length
            upload.save(update_fields=["received_parts", "received_bytes"])
    except IntegrityError as e:
        default_storage.delete(name)
        raise ChatError("part_exists", f"Part {index} has arrived already.") from e
    except BaseException:
        default_storage.delete(name)  # no part without its row
        raise
    return upload


def do_complete_upload(upload: Upload, device: Device, digest: object) -> Upload:
    """Offer an upload once all its parts are in and their hash is the one the uploader named.

    A mismatch removes the upload: a half or wrong file is never offered (docs/PROTOCOL.md).
    """
    if not isinstance(digest, str) or len(digest) != 128:
        raise ChatError("invalid_hash", "hash must be 128 hex digits.")
    with transaction.atomic():
        upload = _own_upload_locked(upload, device)
        if upload.state == Upload.State.COMPLETE:
            if upload.hash == digest:
                return upload  # a retry after a lost answer
            raise ChatError("upload_complete", "This upload is complete already.")
        if upload.received_parts != upload.parts or upload.received_bytes != upload.size:
            raise ChatError(
                "upload_incomplete",
                f"{upload.received_parts} of {upload.parts} parts have arrived.",
            )
        digests = b"".join(
            bytes.fromhex(part.sha512) for part in upload.stored_parts.order_by("index")
        )
        matches = hashlib.sha512(digests).hexdigest() == digest
        if matches:
            upload.state = Upload.State.COMPLETE
            upload.hash = digest
            upload.completed_at = timezone.now()
            upload.save(update_fields=["state", "hash", "completed_at"])
    if not matches:
        do_delete_upload(upload)  # outside the transaction: storage does not roll back
        raise ChatError("hash_mismatch", "The parts are not the file that was announced.")
    return upload


def do_cancel_upload(upload: Upload, device: Device) -> None:
    """Cancel one's own unfinished upload and remove what arrived of it."""
    if upload.uploader_id != device.id or upload.state != Upload.State.UPLOADING:
        raise ChatError("not_found", "No such unfinished upload of yours.")
    do_delete_upload(upload)


def do_delete_upload(upload: Upload) -> None:
    """Remove an upload's rows, then its parts from storage.

    Under the upload's lock, as parts are recorded: a part stored meanwhile is either listed here
    or finds its upload gone and removes its own object (do_store_part).
    """
    with transaction.atomic():
        locked = Upload.objects.select_for_update().filter(pk=upload.pk).first()
        if locked is None:
            return  # removed already
        names = list(locked.stored_parts.values_list("name", flat=True))
        locked.delete()
    for name in names:
        default_storage.delete(name)


def do_clean_abandoned_uploads(now: datetime | None = None) -> int:
    """Remove uploads left unfinished for a day; return how many."""
    cutoff = (now or timezone.now()) - ABANDONED_AFTER
    abandoned = list(Upload.objects.filter(state=Upload.State.UPLOADING, created_at__lt=cutoff))
    for upload in abandoned:
        do_delete_upload(upload)
    return len(abandoned)


def open_part(upload: Upload, index: int) -> tuple[UploadPart, File[bytes]]:
    """Return a complete upload's part and an open file of it from storage."""
    if upload.state != Upload.State.COMPLETE:
        raise ChatError("upload_incomplete", "This file has not finished uploading.")
    part = upload.stored_parts.filter(index=index).first()
    if part is None:
        raise ChatError("not_found", "No such part.")
    return part, default_storage.open(part.name, "rb")
