"""Encrypted files both ways between Python clients through a real Daphne, and a server that
tampers with stored parts: the receivers refuse what was altered, reordered, duplicated or cut."""

import asyncio
import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from chat.models import Upload, UploadPart
from sealdesk_client import protocol
from sealdesk_client.client import AgentClient, ConversationClient, Customer
from tests.factories import Staff
from tests.live import DaphneServer, stored_media, stored_text

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "https://www.acme.example"
SECRET_NAME = "tax-return-of-carla-2026.pdf"


@pytest.fixture
async def carla(acme: Staff, daphne: DaphneServer) -> AsyncIterator[Customer]:
    customer = Customer(daphne.url, acme.tenant.widget_id, ORIGIN)
    await customer.start(acme.team.pk, {"name": "Carla", "email": "", "question": "A file?"})
    yield customer
    await customer.close()


def random_file(directory: Path, name: str, size: int) -> Path:
    path = directory / name
    path.write_bytes(os.urandom(size))
    return path


async def announced_files(view: ConversationClient, count: int) -> list[dict[str, str]]:
    await view.wait_until(lambda: len([m for m in view.messages() if m["type"] == "file"]) >= count)
    return [m for m in view.messages() if m["type"] == "file"]


def read(name: str) -> bytes:
    with default_storage.open(name, "rb") as stored:
        data: bytes = stored.read()
        return data


def write(name: str, data: bytes) -> None:
    """Replace a stored object, on local disk or S3 alike, as a malicious server could."""
    default_storage.delete(name)
    assert default_storage.save(name, ContentFile(data)) == name


async def test_a_large_file_goes_both_ways_and_the_server_keeps_neither_name_nor_plaintext(
    carla: Customer, alice: AgentClient, tmp_path: Path
) -> None:
    chat = await alice.accept_next_offer()
    sent = random_file(tmp_path, SECRET_NAME, 5 * 1024 * 1024 + 123)
    await carla.files.upload(carla, sent, "application/pdf")
    [announcement] = await announced_files(chat, 1)
    assert announcement["name"] == SECRET_NAME
    assert announcement["mime"] == "application/pdf"
    assert announcement["size"] == str(sent.stat().st_size)
    received = tmp_path / "received.pdf"
    await alice.files.download(announcement, received)
    assert received.read_bytes() == sent.read_bytes()

    reply = random_file(tmp_path, "answer.bin", 2000)
    await alice.files.upload(chat, reply)
    [_, back] = await announced_files(carla, 2)
    await carla.files.download(back, tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == reply.read_bytes()

    stored = await asyncio.to_thread(stored_media)
    assert stored
    plaintext = sent.read_bytes()
    samples = [plaintext[i : i + 64] for i in random.sample(range(len(plaintext) - 64), 50)]
    for name in stored:
        content = await asyncio.to_thread(read, name)
        assert not any(sample in content for sample in samples), name
        assert SECRET_NAME not in name
    database = await database_sync_to_async(stored_text)()
    assert SECRET_NAME not in database
    assert "application/pdf" not in database


async def test_many_parts_in_flight_arrive_in_any_order_and_the_file_comes_back_whole(
    carla: Customer, alice: AgentClient, tmp_path: Path
) -> None:
    """Small chunks make 41 parts, three at a time each way: the server takes them in whatever
    order they arrive, stores each once, and the agent gets the file back byte for byte."""
    chat = await alice.accept_next_offer()
    carla.files.chunk_size = alice.files.chunk_size = 64 * 1024
    sent = random_file(tmp_path, "many-parts.bin", 40 * 64 * 1024 + 999)
    await carla.files.upload(carla, sent)
    [announcement] = await announced_files(chat, 1)
    assert announcement["chunks"] == "41"

    def parts() -> list[int]:
        upload = Upload.objects.get(pk=announcement["file"])
        assert (upload.received_parts, upload.received_bytes) == (41, upload.size)
        return list(upload.stored_parts.values_list("index", flat=True))

    assert sorted(await database_sync_to_async(parts)()) == list(range(41))
    folder = f"uploads/{carla.conversation}/{announcement['file']}"
    assert len(await asyncio.to_thread(stored_media, folder)) == 41
    received = tmp_path / "received.bin"
    await alice.files.download(announcement, received)
    assert received.read_bytes() == sent.read_bytes()


@pytest.mark.parametrize("tamper", ["alter", "swap", "duplicate", "truncate"])
async def test_a_file_tampered_with_in_storage_is_refused_by_the_receiver(
    carla: Customer, alice: AgentClient, tmp_path: Path, tamper: str
) -> None:
    chat = await alice.accept_next_offer()
    carla.files.chunk_size = 1024 * 1024  # three parts to swap and duplicate
    sent = random_file(tmp_path, "three-chunks.bin", 2 * 1024 * 1024 + 10)
    await carla.files.upload(carla, sent)
    [announcement] = await announced_files(chat, 1)

    def damage() -> None:
        names = list(
            UploadPart.objects.filter(upload_id=announcement["file"])
            .order_by("index")
            .values_list("name", flat=True)
        )
        first, second = read(names[0]), read(names[1])
        if tamper == "alter":
            write(names[0], first[:100] + bytes([first[100] ^ 1]) + first[101:])
        elif tamper == "swap":
            write(names[0], second)
            write(names[1], first)
        elif tamper == "duplicate":
            write(names[1], first)
        else:
            write(names[-1], read(names[-1])[:-100])

    await database_sync_to_async(damage)()
    target = tmp_path / "received.bin"
    with pytest.raises(protocol.ProtocolError) as refused:
        await alice.files.download(announcement, target)
    assert refused.value.code == "bad_file"
    assert not target.exists()
