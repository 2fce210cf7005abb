"""Encrypted file uploads: parts stored as they arrive, offered only when whole (docs/PROTOCOL.md).

Each part is at most one chunk (1 MiB and its tag), written to Django's storage as its own object,
so the server never holds more than one part in memory and never a name, type or plaintext byte.
"""

import hashlib
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from agents.models import Device
from chat.actions import supervision
from chat.actions.events import lock_conversation
from chat.actions.membership import is_participant, require_participant
from chat.errors import ChatError
from chat.models import Conversation, Upload, UploadPart
from chat.states import require_open

MAX_PART_BYTES = 1024 * 1024 + 16  # one chunk of clients' 1 MiB and its Poly1305 tag
ABANDONED_AFTER = timedelta(hours=24)


def _own_upload_locked(upload: Upload, device: Device) -> Upload:
    """Return one's own upload, locked, in a conversation still open to the device."""
    if upload.uploader_id != device.id:
        raise ChatError("not_found", "No such upload here.")
    upload = (
        Upload.objects.select_for_update(of=("self",))
        .select_related("conversation")
        .get(pk=upload.pk)
    )
    require_participant(upload.conversation, device)
    require_open(upload.conversation)
    return upload


def _part_name(upload: Upload, index: int) -> str:
    return f"uploads/{upload.conversation_id}/{upload.id}/{index:06d}"


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


def do_store_part(upload: Upload, device: Device, index: int, data: bytes) -> Upload:
    """Store the next part of one's own upload, checking its place and size."""
    with transaction.atomic():
        upload = _own_upload_locked(upload, device)
        if upload.state != Upload.State.UPLOADING:
            raise ChatError("upload_complete", "This upload is complete already.")
        if index != upload.received_parts:
            raise ChatError(
                "part_out_of_order", f"The next part is {upload.received_parts}, not {index}."
            )
        last = index == upload.parts - 1
        if not 16 <= len(data) <= MAX_PART_BYTES:
            raise ChatError("invalid_part", f"A part holds 16 to {MAX_PART_BYTES} bytes.")
        remaining = upload.size - upload.received_bytes - len(data)
        if remaining < 0 or (last and remaining != 0) or (not last and remaining < 16):
            raise ChatError("size_mismatch", "The parts do not add up to the declared size.")
        name = default_storage.save(_part_name(upload, index), ContentFile(data))
        try:
            UploadPart.objects.create(
                upload=upload,
                index=index,
                size=len(data),
                sha512=hashlib.sha512(data).hexdigest(),
                name=name,
            )
            upload.received_parts += 1
            upload.received_bytes += len(data)
            upload.save(update_fields=["received_parts", "received_bytes"])
        except Exception:
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
    """Remove an upload's parts from storage and its rows."""
    for name in upload.stored_parts.values_list("name", flat=True):
        default_storage.delete(name)
    upload.delete()


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
