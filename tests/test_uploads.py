"""Encrypted file uploads on the server: parts in order, limits, quotas, no half files, no orphans.

The server sees only ciphertext parts, so these tests send random bytes as parts; what the parts
hold is tested with real encryption in tests/test_files_live.py and the browser tests.
"""

import base64
import hashlib
import io
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from agents.models import Device
from chat import uploads
from chat.actions import devices, lifecycle, offers
from chat.errors import ChatError
from chat.models import Conversation, Upload
from sealdesk_client import protocol
from tests.factories import Staff, start_with_keys
from tests.live import stored_media

pytestmark = pytest.mark.django_db

PAGE = "https://www.acme.example"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    # On local disk, a folder of this test's own; on S3 (scale-out run), the test bucket.
    settings.MEDIA_ROOT = tmp_path / "media"


def stored_files(chat: "Chat") -> list[str]:
    """Return what the storage holds of the chat's uploads."""
    return stored_media(f"uploads/{chat.conversation.id}")


class Chat:
    """A conversation whose customer uploads through the widget API and whose agent downloads."""

    def __init__(self, staff: Staff) -> None:
        _, self.conversation, self.token = start_with_keys(staff)
        self.base = f"/api/widget/{staff.tenant.widget_id}/uploads"
        self.client = Client(
            headers={
                "origin": PAGE,
                "authorization": f"Bearer {self.token}",
                "x-sealdesk-conversation": str(self.conversation.id),
            }
        )

    def start(self, size: int, parts: int) -> Any:
        return self.client.post(
            self.base,
            {"conversation": str(self.conversation.id), "size": size, "parts": parts},
            content_type="application/json",
        )

    def put(self, upload: str, index: int, data: bytes) -> Any:
        return self.client.put(
            f"{self.base}/{upload}/parts/{index}", data, content_type="application/octet-stream"
        )

    def complete(self, upload: str, digest: str) -> Any:
        return self.client.post(
            f"{self.base}/{upload}/complete", {"hash": digest}, content_type="application/json"
        )

    def send(self, parts: list[bytes]) -> str:
        """Upload PARTS and complete the upload; return its id."""
        upload = self.start(sum(map(len, parts)), len(parts)).json()["upload"]
        for index, part in enumerate(parts):
            assert self.put(upload, index, part).status_code == 204
        assert self.complete(upload, file_hash(parts)).status_code == 200
        return str(upload)


def file_hash(parts: list[bytes]) -> str:
    return hashlib.sha512(b"".join(hashlib.sha512(p).digest() for p in parts)).hexdigest()


def agent_in(staff: Staff, chat: Chat) -> tuple[Client, Device]:
    """Return Alice's client and device after she accepted the chat."""
    keys = protocol.generate_device()
    device = devices.do_register_agent_device(
        staff.agent,
        base64.b64encode(keys.sign_public).decode(),
        base64.b64encode(keys.box_public).decode(),
        "test",
    )
    from chat.models import Offer

    offer = Offer.objects.create(
        conversation=chat.conversation,
        agent=staff.agent,
        expires_at=timezone.now() + timedelta(minutes=1),
    )
    offers.do_accept_offer(staff.agent, device, offer.pk)
    client = Client(headers={"x-sealdesk-device": device.id})
    client.force_login(staff.agent.user)
    return client, device


def test_a_customer_uploads_parts_and_the_agent_downloads_the_same_bytes(acme: Staff) -> None:
    chat = Chat(acme)
    parts = [os.urandom(1000), os.urandom(1000), os.urandom(26)]
    upload = chat.send(parts)
    alice, _ = agent_in(acme, chat)
    for index, part in enumerate(parts):
        response = alice.get(f"/dashboard/uploads/{upload}/parts/{index}")
        assert response.status_code == 200
        assert response.getvalue() == part
    status = alice.get(f"/dashboard/uploads/{upload}").json()
    assert status["state"] == "complete"
    assert status["received_parts"] == 3


def test_upload_answers_carry_cors_headers_for_the_page(acme: Staff) -> None:
    chat = Chat(acme)
    response = chat.start(100, 1)
    assert response.status_code == 201
    assert response["Access-Control-Allow-Origin"] == PAGE
    preflight = chat.client.options(f"{chat.base}/{response.json()['upload']}/parts/0")
    assert "PUT" in preflight["Access-Control-Allow-Methods"]
    assert "X-Sealdesk-Conversation" in preflight["Access-Control-Allow-Headers"]


def test_a_file_over_the_tenants_limit_is_refused_before_any_byte(acme: Staff) -> None:
    acme.tenant.max_file_bytes = 2048
    acme.tenant.save()
    chat = Chat(acme)
    response = chat.start(4096, 1)
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert Upload.objects.count() == 0


def test_the_conversation_quota_counts_every_upload(acme: Staff) -> None:
    acme.tenant.conversation_quota_bytes = 3000
    acme.tenant.save()
    chat = Chat(acme)
    chat.send([os.urandom(2000)])
    response = chat.start(1500, 1)
    assert response.status_code == 413
    assert response.json()["code"] == "quota_exceeded"


@pytest.mark.parametrize(
    ("index", "data", "code"),
    [
        (2, b"x" * 100, "invalid_part"),
        (0, b"x" * 190, "size_mismatch"),
        (0, b"x" * 8, "invalid_part"),
    ],
)
def test_a_bad_part_is_refused_and_nothing_is_stored(
    acme: Staff, index: int, data: bytes, code: str
) -> None:
    chat = Chat(acme)
    upload = chat.start(200, 2).json()["upload"]
    response = chat.put(upload, index, data)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert stored_files(chat) == []
    assert Upload.objects.get().received_parts == 0


@pytest.mark.parametrize(("sent", "said"), [(100, 150), (150, 100)])
def test_a_body_that_is_not_its_content_length_is_refused_and_nothing_is_stored(
    acme: Staff, sent: int, said: int
) -> None:
    """A part is copied into storage as it is read (under Daphne, from the request body): one
    that ends early or goes on past its length is removed again. Django's test client cannot
    send a body that disagrees with its length, so the stream is handed over directly."""
    chat = Chat(acme)
    upload = Upload.objects.get(pk=chat.start(260, 2).json()["upload"])
    customer = chat.conversation.customer_device
    with pytest.raises(ChatError) as refused:
        uploads.do_store_part(upload, customer, 0, io.BytesIO(b"x" * sent), said)
    assert refused.value.code == "invalid_part"
    assert stored_files(chat) == []
    assert Upload.objects.get().received_parts == 0


def test_a_part_on_its_way_when_the_upload_is_cancelled_is_not_found_and_leaves_nothing(
    acme: Staff,
) -> None:
    """The part's request found the upload, then the uploader cancelled it while the bytes were
    still arriving: the part is refused as not_found (not a 500) and its object removed."""
    chat = Chat(acme)
    parts = [os.urandom(100), os.urandom(100)]
    upload = Upload.objects.get(pk=chat.start(200, 2).json()["upload"])
    assert chat.put(str(upload.pk), 0, parts[0]).status_code == 204
    assert chat.client.delete(f"{chat.base}/{upload.pk}").status_code == 204
    customer = chat.conversation.customer_device
    with pytest.raises(ChatError) as refused:
        uploads.do_store_part(upload, customer, 1, io.BytesIO(parts[1]), 100)
    assert refused.value.code == "not_found"
    assert stored_files(chat) == []


def test_the_last_part_must_end_exactly_at_the_declared_size(acme: Staff) -> None:
    chat = Chat(acme)
    upload = chat.start(200, 2).json()["upload"]
    assert chat.put(upload, 0, b"a" * 100).status_code == 204
    response = chat.put(upload, 1, b"b" * 50)
    assert response.json()["code"] == "size_mismatch"


def test_an_incomplete_upload_is_never_offered(acme: Staff) -> None:
    chat = Chat(acme)
    upload = chat.start(200, 2).json()["upload"]
    chat.put(upload, 0, b"a" * 100)
    response = chat.complete(upload, "0" * 128)
    assert response.json()["code"] == "upload_incomplete"
    alice, _ = agent_in(acme, chat)
    download = alice.get(f"/dashboard/uploads/{upload}/parts/0")
    assert download.status_code == 400
    assert download.json()["code"] == "upload_incomplete"


def test_a_wrong_hash_removes_the_upload_and_its_parts(acme: Staff) -> None:
    chat = Chat(acme)
    parts = [os.urandom(100), os.urandom(100)]
    upload = chat.start(200, 2).json()["upload"]
    for index, part in enumerate(parts):
        chat.put(upload, index, part)
    response = chat.complete(upload, file_hash(list(reversed(parts))))
    assert response.json()["code"] == "hash_mismatch"
    assert not Upload.objects.exists()
    assert stored_files(chat) == []


def test_a_cancelled_upload_leaves_nothing(acme: Staff) -> None:
    chat = Chat(acme)
    upload = chat.start(200, 2).json()["upload"]
    chat.put(upload, 0, os.urandom(100))
    assert stored_files(chat)
    assert chat.client.delete(f"{chat.base}/{upload}").status_code == 204
    assert stored_files(chat) == []
    assert not Upload.objects.exists()


def test_a_resumed_upload_goes_on_from_the_parts_the_server_has(acme: Staff) -> None:
    chat = Chat(acme)
    parts = [os.urandom(100), os.urandom(100), os.urandom(100)]
    upload = chat.start(300, 3).json()["upload"]
    chat.put(upload, 0, parts[0])
    # The connection dropped; the client asks where to go on.
    status = chat.client.get(f"{chat.base}/{upload}").json()
    assert status["received_parts"] == 1
    again = chat.put(upload, 0, parts[0])
    assert (again.status_code, again.json()["code"]) == (409, "part_exists")
    for index in (1, 2):
        assert chat.put(upload, index, parts[index]).status_code == 204
    assert chat.complete(upload, file_hash(parts)).status_code == 200
    assert len(stored_files(chat)) == 3  # the part sent twice is stored once


def test_parts_may_arrive_in_any_order(acme: Staff) -> None:
    """Clients keep several parts in flight, so the server takes them as they come."""
    chat = Chat(acme)
    parts = [os.urandom(100), os.urandom(100), os.urandom(60)]
    upload = chat.start(260, 3).json()["upload"]
    for index in (2, 0, 1):
        assert chat.put(upload, index, parts[index]).status_code == 204
    assert chat.complete(upload, file_hash(parts)).json()["state"] == "complete"
    alice, _ = agent_in(acme, chat)
    for index, part in enumerate(parts):
        assert alice.get(f"/dashboard/uploads/{upload}/parts/{index}").getvalue() == part


def test_a_part_that_cannot_add_up_is_refused_before_the_others_arrive(acme: Staff) -> None:
    chat = Chat(acme)
    upload = chat.start(260, 3).json()["upload"]
    assert chat.put(upload, 2, b"c" * 100).status_code == 204
    # 100 and this 150 leave 10 bytes for part 1, which needs at least its 16-byte tag.
    assert chat.put(upload, 0, b"a" * 150).json()["code"] == "size_mismatch"
    assert chat.put(upload, 0, b"a" * 100).status_code == 204
    # The last part to arrive must make the size exact.
    assert chat.put(upload, 1, b"b" * 50).json()["code"] == "size_mismatch"
    assert len(stored_files(chat)) == 2


def test_closed_conversations_take_no_uploads(acme: Staff) -> None:
    chat = Chat(acme)
    upload = chat.start(200, 2).json()["upload"]
    lifecycle.do_close_conversation(chat.conversation, chat.conversation.customer_device)
    assert chat.put(upload, 0, b"a" * 100).json()["code"] == "conversation_closed"
    assert chat.start(100, 1).json()["code"] == "conversation_closed"


def test_other_conversations_and_outsiders_reach_no_upload(acme: Staff, globex: Staff) -> None:
    chat, other = Chat(acme), Chat(acme)
    upload = chat.send([os.urandom(100)])
    assert other.client.get(f"{other.base}/{upload}").status_code == 404
    assert other.client.get(f"{other.base}/{upload}/parts/0").status_code == 404
    wrong_conversation = other.client.post(
        other.base,
        {"conversation": str(chat.conversation.id), "size": 100, "parts": 1},
        content_type="application/json",
    )
    assert wrong_conversation.status_code == 404
    outsider_keys = protocol.generate_device()
    otto_device = devices.do_register_agent_device(
        globex.agent,
        base64.b64encode(outsider_keys.sign_public).decode(),
        base64.b64encode(outsider_keys.box_public).decode(),
        "test",
    )
    otto = Client(headers={"x-sealdesk-device": otto_device.id})
    otto.force_login(globex.agent.user)
    assert otto.get(f"/dashboard/uploads/{upload}/parts/0").status_code == 404
    assert otto.get(f"/dashboard/uploads/{upload}").status_code == 404
    stranger = Client(
        headers={"origin": PAGE, "x-sealdesk-conversation": str(chat.conversation.id)}
    )
    assert stranger.get(f"{chat.base}/{upload}").status_code == 404


def test_abandoned_uploads_are_cleaned_after_a_day(acme: Staff) -> None:
    chat = Chat(acme)
    fresh = chat.start(200, 2).json()["upload"]
    old = chat.start(200, 2).json()["upload"]
    chat.put(old, 0, os.urandom(100))
    Upload.objects.filter(pk=old).update(created_at=timezone.now() - timedelta(hours=25))
    done = chat.send([os.urandom(50)])
    Upload.objects.filter(pk=done).update(created_at=timezone.now() - timedelta(days=3))
    assert uploads.do_clean_abandoned_uploads() == 1
    assert set(Upload.objects.values_list("pk", flat=True).iterator()) == {
        Upload.objects.get(pk=fresh).pk,
        Upload.objects.get(pk=done).pk,
    }
    assert len(stored_files(chat)) == 1


def test_conversation_state_survives_a_file_upload(acme: Staff) -> None:
    chat = Chat(acme)
    chat.send([os.urandom(26)])
    assert Conversation.objects.get().state == Conversation.State.QUEUED


def test_the_clean_uploads_command_reports_what_it_removed(acme: Staff) -> None:
    from io import StringIO

    from django.core.management import call_command

    chat = Chat(acme)
    old = chat.start(200, 2).json()["upload"]
    Upload.objects.filter(pk=old).update(created_at=timezone.now() - timedelta(days=2))
    out = StringIO()
    call_command("clean_uploads", stdout=out)
    assert out.getvalue().strip() == "Removed 1 abandoned upload(s)."
