"""A Sealdesk chat client on PyNaCl and aiohttp: plays a customer or an agent.

Used by the tests, the benchmarks and `python -m sealdesk_client`. It does what the browser
clients do: all cryptography here (docs/PROTOCOL.md), the server sees only ciphertext.
"""

import asyncio
import base64
import itertools
import json
import re
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from sealdesk_client import frames, protocol

T = TypeVar("T")


class ServerError(Exception):
    """The server refused a request; `code` is the stable error code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass
class Shown:
    """One line of a conversation as a client shows it: a verified message or a warning."""

    seq: int
    kind: str  # "message", "warning" or "notice"
    sender: str | None
    content: dict[str, Any]
    received_at: float = field(default_factory=time.monotonic)


def now_iso() -> str:
    """Return the current UTC time as the protocol writes it."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class ConversationClient:
    """One device's view of one conversation: verifies, decrypts and shows its events in order."""

    role = "customer"

    def __init__(self, keys: protocol.DeviceKeys, tenant: str, conversation: str) -> None:
        self.keys = keys
        self.tenant = tenant
        self.conversation = conversation
        self.state: protocol.ConversationState | None = None
        self.customer_device: str | None = None
        self.answering = False  # staff answering a message whose customer awaits an e-mail
        self.epochs: dict[int, protocol.EpochRecord] = {}
        self.members: dict[str, protocol.Member] = {}  # every device seen joining
        self.joined_order: list[str] = []
        # Staff devices that signed a leave since an epoch last added them (docs/PROTOCOL.md,
        # "Leaving"): the next epoch leaves them out.
        self.departed: set[str] = set()
        # Supervisors that signed a barge since an epoch last added them: only they write to
        # the customer (docs/PROTOCOL.md, "Supervisors").
        self.barged: set[str] = set()
        self.shown: list[Shown] = []
        self.last_seq = 0
        self.closed = False
        self.closed_by: str | None = None  # the member whose signed close was accepted
        self.outbox: dict[int, protocol.Envelope] = {}  # sent, not yet acknowledged
        # Clear while a new socket catches up and resends the outbox: a message written then
        # waits, so that it cannot overtake the older ones it follows (seq_out_of_order).
        self._resent = asyncio.Event()
        self._resent.set()
        # Messages witnessed whose epoch key has not arrived yet (a history share comes after
        # them), and every message after them, so that the order shown is the transcript's.
        self.held: list[tuple[dict[str, Any], protocol.Envelope]] = []
        # Staff notes waiting for their epoch's staff key; they hold nothing else back.
        self.held_staff: list[tuple[dict[str, Any], protocol.Envelope]] = []
        self.changed = asyncio.Event()
        self.socket: aiohttp.ClientWebSocketResponse | None = None
        self._refs = itertools.count(1)
        self._waiters: dict[int, asyncio.Future[dict[str, Any]]] = {}

    # Events, in server order.

    def set_customer_device(self, device: dict[str, Any]) -> None:
        self.customer_device = device["id"]
        member = protocol.Member(
            device["id"],
            "customer",
            base64.b64decode(device["sign_public"]),
            base64.b64decode(device["box_public"]),
        )
        self.members[member.device_id] = member
        if self.state is None:
            self.state = protocol.ConversationState(
                self.tenant, self.conversation, self.keys, device["id"]
            )

    def apply(self, event: dict[str, Any]) -> None:
        """Apply one stored event; events must come in server order without gaps."""
        if event["seq"] <= self.last_seq:
            return  # seen already (a broadcast that raced a sync)
        if event["seq"] != self.last_seq + 1:
            raise RuntimeError(f"event {event['seq']} after {self.last_seq}: sync first")
        self.last_seq = event["seq"]
        kind, body = event["kind"], event["body"]
        if kind == "message":
            self._apply_message(event)
        elif kind == "epoch":
            self._apply_epoch(event)
        elif kind == "share":
            self._apply_wraps(event["seq"], body["wraps"])
        elif kind == "joined":
            device = body["device"]
            member = protocol.Member(
                device["id"],
                body["role"],
                base64.b64decode(device["sign_public"]),
                base64.b64decode(device["box_public"]),
            )
            try:
                member.validate()  # keys that are not the device id's are refused
                if member.role == "customer":  # the customer is epoch 0's, never announced
                    raise protocol.ProtocolError("bad_epoch")
            except protocol.ProtocolError:
                self._warn(event["seq"], None, "uncertified")
            else:
                self.members[device["id"]] = member
                self.joined_order.append(device["id"])
                # Asked back in after it left the latest epoch: a candidate again.
                if device["id"] not in self._latest_members():
                    self.departed.discard(device["id"])
                self.shown.append(Shown(event["seq"], "notice", None, body))
        elif kind == "closed":
            self.closed = True
            if self.closed_by is None:  # only the server says so: nobody signed a close
                self._warn(event["seq"], None, "unsigned_close")
            else:
                self.shown.append(Shown(event["seq"], "notice", None, body))
        else:
            self.shown.append(Shown(event["seq"], "notice", None, {"kind": kind, **body}))
        self.changed.set()

    def _latest_members(self) -> set[str]:
        latest = None if self.state is None else self.state.latest_epoch
        if self.state is None or latest is None:
            return set()
        return {m.device_id for m in self.state.members_of(latest)}

    def _warn(self, seq: int, sender: str | None, code: str) -> None:
        self.shown.append(Shown(seq, "warning", sender, {"code": code}))

    def _apply_epoch(self, event: dict[str, Any]) -> None:
        assert self.state is not None, "the conversation's customer device comes first"
        try:
            record = protocol.EpochRecord.from_json(event["body"]["record"])
            before = self.state.latest_epoch
            self.state.accept_epoch(record)
        except protocol.ProtocolError as e:
            self._warn(event["seq"], event["sender"], e.code)
            return
        if self.state.latest_epoch == before:  # a record held already, shown again
            self._warn(event["seq"], event["sender"], "replayed_epoch")
            return
        self.epochs[record.epoch] = record
        had = (
            {m.device_id for m in self.state.members_of(record.epoch - 1)}
            if record.epoch
            else set()
        )
        has = {m.device_id for m in record.members}
        self.departed -= has - had
        self.barged -= had - has
        # A device this epoch removed comes back only with a joined notice after it.
        self.joined_order = [d for d in self.joined_order if d not in had or d in has]
        self._apply_wraps(event["seq"], event["body"]["wraps"])

    def _apply_wraps(self, seq: int, wraps: list[Any]) -> None:
        assert self.state is not None
        for raw in wraps:
            try:
                wrap = protocol.Wrap.from_json(raw)
            except protocol.ProtocolError as e:
                self._warn(seq, None, e.code)
                continue
            if wrap.recipient != self.keys.device_id:
                continue
            try:
                self.state.accept_wrap(wrap)
            except protocol.ProtocolError as e:
                self._warn(seq, wrap.wrapper, e.code)
        self._release_held()

    def _release_held(self) -> None:
        assert self.state is not None
        while self.held and self.state.key_of(self.held[0][1].epoch) is not None:
            self._open_message(*self.held.pop(0))
        waiting, self.held_staff = self.held_staff, []
        for event, envelope in waiting:
            if self.state.staff_key_of(envelope.epoch) is None:
                self.held_staff.append((event, envelope))
            else:
                self._open_message(event, envelope)

    def _apply_message(self, event: dict[str, Any]) -> None:
        """Witness a message in server order; open it now, or once its key arrives."""
        assert self.state is not None
        try:
            envelope = protocol.Envelope.from_json(event["body"])
            self.state.witness(envelope)
        except protocol.ProtocolError as e:
            self._warn(event["seq"], event["sender"], e.code)
            return
        if envelope.sender == self.keys.device_id:
            self.outbox.pop(envelope.seq, None)  # only what verified as ours
        if envelope.staff:
            # The customer's device holds no staff key: the note keeps its place in the
            # transcript, and nothing of it is shown (docs/PROTOCOL.md, "Staff-only messages").
            if not self.state.is_staff:
                return
            if self.state.staff_key_of(envelope.epoch) is None:
                self.held_staff.append((event, envelope))
            else:
                self._open_message(event, envelope)
            return
        if self.held or self.state.key_of(envelope.epoch) is None:
            self.held.append((event, envelope))
            return
        self._open_message(event, envelope)

    def _open_message(self, event: dict[str, Any], envelope: protocol.Envelope) -> None:
        assert self.state is not None
        try:
            plaintext = self.state.open(envelope)
        except protocol.ProtocolError as e:
            self._warn(event["seq"], event["sender"], e.code)
            return
        member = self.state.record_of(envelope.epoch).member(envelope.sender)
        role = member.role if member else None
        if role == "supervisor" and envelope.sender not in self.barged:
            if plaintext["type"] == "barge":
                self.barged.add(envelope.sender)
            elif plaintext["type"] not in ("note", "leave"):
                if plaintext["type"] != "receipt":
                    self._warn(event["seq"], event["sender"], "not_barged")
                return
        if plaintext["type"] == "close":
            self.closed_by = envelope.sender
        if plaintext["type"] == "rating_comment" and (
            envelope.sender != self.customer_device or not (self.closed or self.closed_by)
        ):
            # The customer's, once the chat ended: from anyone else, or before, it is refused.
            self._warn(event["seq"], event["sender"], "malformed")
            return
        if plaintext["type"] == "leave" and envelope.sender != self.customer_device:
            self.departed.add(envelope.sender)
        self.shown.append(Shown(event["seq"], "message", envelope.sender, plaintext))

    # What is shown.

    def messages(self) -> list[dict[str, Any]]:
        """Return the verified plaintexts shown so far (receipts and closes are not shown)."""
        quiet = ("receipt", "close", "leave", "note", "barge")
        return [
            s.content for s in self.shown if s.kind == "message" and s.content["type"] not in quiet
        ]

    def notes(self) -> list[str]:
        """Return the bodies of the staff notes read so far."""
        return [
            s.content["body"]
            for s in self.shown
            if s.kind == "message" and s.content["type"] == "note"
        ]

    def receipts(self) -> list[tuple[str, dict[str, Any]]]:
        """Return the verified receipts so far, with their senders."""
        return [
            (s.sender or "", s.content)
            for s in self.shown
            if s.kind == "message" and s.content["type"] == "receipt"
        ]

    def warnings(self) -> list[str]:
        """Return the codes of the warnings shown in place of refused events."""
        return [s.content["code"] for s in self.shown if s.kind == "warning"]

    def keyed_since_joined(self) -> bool:
        """Return whether this side holds the key of an epoch after the first, which the agent
        who took the chat started (tests and benchmarks wait for it before they write)."""
        latest = None if self.state is None else self.state.latest_epoch
        return latest is not None and latest >= 1 and bool(self.state and self.state.key_of(latest))

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 10) -> None:
        """Wait until CONDITION holds after some event, or raise TimeoutError."""
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    # Membership: keep the latest epoch equal to who has joined (docs/PROTOCOL.md, "Epochs").

    def current_members(self) -> list[protocol.Member]:
        """Return the members the next epoch should have: the latest epoch's, whatever notices
        this view got or missed, less the devices that signed a leave, and the first agent device
        a notice names while no agent has been in the conversation yet (on the server's word, as
        the widget without a pinned organisation key; docs/THREAT_MODEL.md). Epoch 0 has the
        customer alone."""
        assert self.state is not None
        assert self.customer_device is not None
        latest = self.state.latest_epoch
        if latest is None:
            return [self.members[self.customer_device]]
        kept = [m for m in self.state.members_of(latest) if m.device_id not in self.departed]
        had_staff = any(
            member.role != "customer"
            for epoch in range(latest + 1)
            for member in self.state.members_of(epoch)
        )
        if had_staff or not self.joined_order:
            return kept
        first = self.members[self.joined_order[0]]
        return kept if first in kept else [*kept, first]

    def needs_epoch(self) -> bool:
        """Return whether this device should make the next epoch: only the customer's device
        makes epochs, so a `joined` notice makes no agent hand out a key."""
        assert self.state is not None
        if self.closed or self.keys.device_id != self.customer_device:
            return False
        latest = self.state.latest_epoch
        if latest is None:
            return True
        wanted = {m.device_id for m in self.current_members()}
        have = {m.device_id for m in self.state.members_of(latest)}
        return wanted != have and self.state.key_of(latest) is not None

    # Frames.

    async def request(self, frame: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
        """Send a frame and wait for the reply naming its ref; raise ServerError on an error."""
        ref = next(self._refs)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[ref] = future
        assert self.socket is not None
        await self.socket.send_str(json.dumps({**frame, "ref": ref}))
        try:
            async with asyncio.timeout(timeout):
                reply = await future
        finally:
            self._waiters.pop(ref, None)
        if reply["type"] == frames.ERROR:
            raise ServerError(reply["code"], reply["detail"])
        return reply

    def connection_lost(self) -> None:
        """Fail the requests still waiting: their answers cannot come on a closed socket (the
        outbox keeps what they sent, for the next connection)."""
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(ConnectionError("the socket closed before the answer came"))

    def resolve(self, frame: dict[str, Any]) -> bool:
        ref = frame.get("ref")
        if isinstance(ref, int) and ref in self._waiters:
            waiter = self._waiters[ref]
            if not waiter.done():  # a request that timed out has given up on its answer
                waiter.set_result(frame)
            return True
        return False

    async def make_epoch(self) -> None:
        """Make the next epoch for the current members, wrap its key, share older epochs."""
        assert self.state is not None
        latest = self.state.latest_epoch
        previous = self.epochs.get(latest) if latest is not None else None
        members = self.current_members()
        record = protocol.make_epoch(self.keys, self.tenant, self.conversation, previous, members)
        key = protocol.new_epoch_key()
        wraps = [
            protocol.wrap_key(self.keys, m, self.tenant, self.conversation, record.epoch, key)
            for m in members
        ]
        if previous is not None:
            # Newcomers' history shares travel in the same event as the epoch, so that they
            # cannot be lost between two requests (docs/PROTOCOL.md, "Key wraps").
            old_members = {m.device_id for m in self.state.members_of(previous.epoch)}
            wraps += [
                protocol.wrap_key(self.keys, m, self.tenant, self.conversation, e, k)
                for m in members
                if m.device_id not in old_members
                for e in sorted(self.epochs)
                if (k := self.state.key_of(e)) is not None
            ]
        stored = await self.request(
            {
                "type": frames.EPOCH,
                "conversation": self.conversation,
                "record": record.to_json(),
                "wraps": [w.to_json() for w in wraps],
            }
        )
        await self.catch_up(stored["seq"])

    async def send_message(self, plaintext: dict[str, Any]) -> int:
        """Encrypt, sign and send a message under the latest epoch; return its server number.

        While disconnected, or when the socket closes before the server's answer, the message
        waits in the outbox and 0 is returned.
        """
        if self.socket is not None and not self.socket.closed:
            await self._resent.wait()  # the outbox goes first on a socket that just came back
        envelope = self._seal(plaintext)
        self.outbox[envelope.seq] = envelope
        if self.socket is None or self.socket.closed:
            return 0  # kept in the outbox; connect() sends it
        frame: dict[str, Any] = {"type": frames.SEND, "conversation": self.conversation}
        # While its customer waits for an e-mail notice (`answering`, the summary's notify), a
        # text or file is the answer, as the dashboard says (staff-view.js, sendFrame).
        if self.answering and plaintext.get("type") in ("text", "file"):
            frame["answer"] = True
        try:
            reply = await self.request({**frame, "envelope": envelope.to_json()})
        except ConnectionError:
            return 0  # kept in the outbox; the next connect() sends it again
        return int(reply["seq"])

    def _seal(self, plaintext: dict[str, Any], staff: bool = False) -> protocol.Envelope:
        """Encrypt and sign PLAINTEXT as this device's next message, in the latest epoch (under
        its staff key when STAFF)."""
        assert self.state is not None
        epoch = self.state.latest_epoch
        key = (
            None
            if epoch is None
            else (self.state.staff_key_of if staff else self.state.key_of)(epoch)
        )
        if epoch is None or key is None:
            raise RuntimeError("no epoch key yet")
        return protocol.encrypt_message(
            self.keys,
            self.tenant,
            self.conversation,
            self.state.record_of(epoch),
            key,
            self.state.next_seq(),
            plaintext,
            after=self.state.after,
            staff=staff,
        )

    async def send_note(self, body: str) -> int:
        """Write a note only the staff in the conversation read; make the latest epoch's staff
        key first when none exists (adopted as the events come back, like the browser's). It
        pins no organisation key, so the key it makes goes to this device alone."""
        assert self.state is not None
        epoch = self.state.latest_epoch
        if epoch is None:
            raise RuntimeError("no epoch yet")
        if self.state.staff_key_of(epoch) is None:
            # This client pins no organisation key: like a dashboard that trusts none, it hands
            # a staff key to no other device, which could be one the customer made up.
            key = protocol.new_epoch_key()
            me = self.keys.member("agent")
            wraps = [
                protocol.wrap_key(
                    self.keys, me, self.tenant, self.conversation, epoch, key, staff=True
                ).to_json()
            ]
            stored = await self.request(
                {"type": frames.SHARE, "conversation": self.conversation, "wraps": wraps}
            )
            await self.catch_up(stored["seq"])
        envelope = self._seal({"type": "note", "body": body, "sent_at": now_iso()}, staff=True)
        self.outbox[envelope.seq] = envelope
        reply = await self.request(
            {"type": frames.SEND, "conversation": self.conversation, "envelope": envelope.to_json()}
        )
        return int(reply["seq"])

    async def send_text(self, body: str) -> int:
        """Send a chat message."""
        return await self.send_message({"type": "text", "body": body, "sent_at": now_iso()})

    async def send_receipt(self, state: str = "read") -> int:
        """Say, signed, that this device had everything so far ("delivered" or "read")."""
        return await self.send_message({"type": "receipt", "state": state, "sent_at": now_iso()})

    async def close_conversation(self, **extra: Any) -> dict[str, Any]:
        """Sign a close into the transcript, then ask the server to close the conversation."""
        if self.state is not None and self.state.latest_epoch is not None and not self.closed:
            await self.send_message({"type": "close", "sent_at": now_iso()})
        return await self.request(
            {"type": frames.CLOSE, "conversation": self.conversation, **extra}
        )

    async def leave(self) -> dict[str, Any]:
        """Leave the conversation with a signed leave, which the server stores with the leaving,
        or refuses with it."""
        envelope = self._seal({"type": "leave", "sent_at": now_iso()})
        return await self.request(
            {
                "type": frames.LEAVE,
                "conversation": self.conversation,
                "envelope": envelope.to_json(),
            }
        )

    async def invite(self, agent: int, purpose: str) -> dict[str, Any]:
        """Ask a colleague (an agent's id) in, for a conference or a transfer; return the
        invitation."""
        reply = await self.request(
            {
                "type": frames.INVITE,
                "conversation": self.conversation,
                "agent": agent,
                "purpose": purpose,
            }
        )
        invitation: dict[str, Any] = reply["invitation"]
        return invitation

    async def catch_up_and_resend(self) -> None:
        """On a new socket (whoever gave it cleared `_resent`): apply what was missed, send the
        outbox again, then let sends go."""
        try:
            await self.sync()
            await self.resend_outbox()
        finally:
            self._resent.set()

    async def resend_outbox(self) -> None:
        """Send again what was sent but not acknowledged (the server keeps each only once)."""
        for seq in sorted(self.outbox):
            await self.request(
                {
                    "type": frames.SEND,
                    "conversation": self.conversation,
                    "envelope": self.outbox[seq].to_json(),
                }
            )

    async def reloaded(self) -> "ConversationClient":
        """Return a view built again from the server's history alone, as after a page reload."""
        assert self.customer_device is not None
        customer = self.members[self.customer_device]
        view = ConversationClient(self.keys, self.tenant, self.conversation)
        view.set_customer_device(
            {
                "id": customer.device_id,
                "sign_public": base64.b64encode(customer.sign_public).decode(),
                "box_public": base64.b64encode(customer.box_public).decode(),
            }
        )
        # Same socket, same reply routing: this view's requests are answered like ours.
        view.socket, view._refs, view._waiters = self.socket, self._refs, self._waiters
        await view.sync()
        return view

    async def catch_up(self, seq: int) -> None:
        """Make sure events up to SEQ are applied, fetching them if their broadcast is late."""
        if self.last_seq < seq:
            await self.sync()

    async def sync(self) -> None:
        """Fetch and apply every event after the last one applied."""
        while True:
            reply = await self.request(
                {"type": frames.SYNC, "conversation": self.conversation, "after": self.last_seq}
            )
            for event in reply["events"]:
                self.apply(event)
            if not reply["more"]:
                return


class Files:
    """Encrypted file transfer over the upload API (docs/PROTOCOL.md, "Files").

    IN_FLIGHT parts travel at once each way, so that the client's cipher and the server's storage
    work at the same time; memory stays bounded by those few chunks whatever the file's size.
    """

    IN_FLIGHT = 3

    def __init__(
        self, session: aiohttp.ClientSession, base: str, headers: Callable[[], dict[str, str]]
    ) -> None:
        self.session = session
        self.base = base
        self.headers = headers
        self.chunk_size = protocol.CHUNK_SIZE  # tests choose smaller ones to make many parts

    async def _json(self, reply: aiohttp.ClientResponse, status: int) -> dict[str, Any]:
        body: dict[str, Any] = await reply.json()
        if reply.status != status:
            raise ServerError(body["code"], body["detail"])
        return body

    async def _in_flight(self, requests: Iterable[Coroutine[Any, Any, T]]) -> AsyncGenerator[T]:
        """Run REQUESTS IN_FLIGHT at a time and yield their results in order; those still running
        when the caller stops (a refusal, a failed check) are cancelled."""
        running: deque[asyncio.Task[T]] = deque()
        try:
            for request in requests:
                running.append(asyncio.create_task(request))
                if len(running) >= self.IN_FLIGHT:
                    yield await running.popleft()
            while running:
                yield await running.popleft()
        finally:
            for task in running:
                task.cancel()
            # Their failures are this one's consequences: retrieved, not logged.
            await asyncio.gather(*running, return_exceptions=True)

    async def _put_part(self, upload: str, index: int, part: bytes) -> None:
        async with self.session.put(
            f"{self.base}/{upload}/parts/{index}",
            data=part,
            headers={**self.headers(), "Content-Type": "application/octet-stream"},
        ) as reply:
            if reply.status != 204:
                await self._json(reply, 204)

    async def upload(
        self, view: ConversationClient, path: Path, mime: str = "application/octet-stream"
    ) -> dict[str, str]:
        """Encrypt and upload a file, announce it in the conversation, return the announcement."""
        size = path.stat().st_size
        encryptor = protocol.FileEncryptor(size, self.chunk_size)
        total = sum(
            protocol.part_length(size, encryptor.chunk_size, i) for i in range(encryptor.chunks)
        )
        async with self.session.post(
            self.base,
            json={"conversation": view.conversation, "size": total, "parts": encryptor.chunks},
            headers=self.headers(),
        ) as reply:
            upload = (await self._json(reply, 201))["upload"]
        if not protocol.is_file_id(upload):  # it goes into our authenticated requests' paths
            raise ValueError("the server named the upload with something that is not an id")
        with path.open("rb") as source:
            # Sealed in order as the generator is drawn (the file's hash follows the parts).
            parts = (
                self._put_part(upload, i, encryptor.encrypt(i, source.read(encryptor.chunk_size)))
                for i in range(encryptor.chunks)
            )
            async with aclosing(self._in_flight(parts)) as sent:
                async for _ in sent:
                    pass
        async with self.session.post(
            f"{self.base}/{upload}/complete",
            json={"hash": encryptor.hash()},
            headers=self.headers(),
        ) as reply:
            await self._json(reply, 200)
        announcement = encryptor.announcement(upload, path.name, mime)
        await view.send_message({"type": "file", **announcement, "sent_at": now_iso()})
        return announcement

    async def _get_part(self, file: str, index: int) -> bytes:
        async with self.session.get(
            f"{self.base}/{file}/parts/{index}", headers=self.headers()
        ) as reply:
            if reply.status != 200:
                await self._json(reply, 200)
            return await reply.read()

    async def download(self, announcement: dict[str, str], destination: Path) -> None:
        """Download, decrypt and verify an announced file into DESTINATION (removed on failure)."""
        decryptor = protocol.FileDecryptor(announcement)
        parts = (
            self._get_part(announcement["file"], i) for i in range(int(announcement["chunks"]))
        )
        try:
            with destination.open("wb") as target:
                async with aclosing(self._in_flight(parts)) as arriving:
                    index = 0
                    async for part in arriving:  # asked for ahead, opened in order
                        target.write(decryptor.decrypt(index, part))
                        index += 1
            decryptor.finish()
        except BaseException:
            destination.unlink(missing_ok=True)
            raise


class Connection:
    """A websocket to Sealdesk that reads frames in the background and routes them."""

    def __init__(self, session: aiohttp.ClientSession, url: str, origin: str) -> None:
        self.session = session
        self.url = url
        self.origin = origin
        self.socket: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task[None] | None = None
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.on_frame: Callable[[dict[str, Any]], None] = self.frames.put_nowait
        self.on_close: Callable[[], None] = lambda: None

    async def open(self) -> aiohttp.ClientWebSocketResponse:
        self.socket = await self.session.ws_connect(
            self.url, origin=self.origin, max_msg_size=4 * 1024 * 1024, heartbeat=20
        )
        self.reader = asyncio.create_task(self._read(self.socket))
        return self.socket

    async def _read(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for message in socket:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self.on_frame(json.loads(message.data))
        finally:
            self.on_close()  # no answer comes on this socket any more

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)


def _ws_url(base_url: str, path: str) -> str:
    return re.sub(r"^http", "ws", base_url.rstrip("/")) + path


class Customer(ConversationClient):
    """A customer's widget: starts a conversation with a pre-chat form, then chats."""

    role = "customer"

    def __init__(self, base_url: str, widget_id: str, origin: str) -> None:
        super().__init__(protocol.generate_device(), widget_id, "")
        self.base_url = base_url.rstrip("/")
        self.origin = origin
        self.session = aiohttp.ClientSession()
        self.token = ""
        self.queue_position = 0
        self.connection: Connection | None = None
        self.files = Files(
            self.session,
            f"{self.base_url}/api/widget/{widget_id}/uploads",
            lambda: {
                "Origin": self.origin,
                "Authorization": f"Bearer {self.token}",
                "X-Sealdesk-Conversation": self.conversation,
            },
        )

    async def config(self) -> dict[str, Any]:
        """Return the widget's configuration: the tenant's name and its teams."""
        async with self.session.get(
            f"{self.base_url}/api/widget/{self.tenant}/config", headers={"Origin": self.origin}
        ) as reply:
            body: dict[str, Any] = await reply.json()
            if reply.status != 200:
                raise ServerError(body["code"], body["detail"])
        return body

    async def start(self, team: int, prechat: dict[str, str], language: str = "") -> None:
        """Open a conversation: register fresh keys, make epoch 0, send the pre-chat form.

        LANGUAGE (a tag such as de-CH) is the one routing hint the server sees."""
        async with self.session.post(
            f"{self.base_url}/api/widget/{self.tenant}/conversations",
            json={
                "team": team,
                "device": {
                    "sign_public": base64.b64encode(self.keys.sign_public).decode(),
                    "box_public": base64.b64encode(self.keys.box_public).decode(),
                },
                "language": language,
            },
            headers={"Origin": self.origin},
        ) as reply:
            body = await reply.json()
            if reply.status != 201:
                raise ServerError(body["code"], body["detail"])
        self.conversation = body["conversation"]["id"]
        self.token = body["token"]
        self.queue_position = body["queue_position"]
        self.set_customer_device(body["conversation"]["customer_device"])
        await self.connect()
        await self.make_epoch()
        await self.send_message({"type": "prechat", **prechat, "sent_at": now_iso()})
        await self.keep_epoch_current()

    def _closed(self, connection: Connection) -> None:
        if connection is self.connection:  # a later connect's socket is not this one's to fail
            self.connection_lost()

    async def connect(self) -> None:
        """Open the socket, authenticate, catch up on missed events and resend the outbox."""
        self.connection = Connection(
            self.session, _ws_url(self.base_url, f"/ws/widget/{self.tenant}/"), self.origin
        )
        self.connection.on_frame = self.on_frame
        self.connection.on_close = partial(self._closed, self.connection)
        self._resent.clear()  # until the outbox is resent, new messages wait
        try:
            self.socket = await self.connection.open()
            hello = await self.request(
                {"type": frames.AUTH, "conversation": self.conversation, "token": self.token}
            )
        except BaseException:
            self._resent.set()
            raise
        self.queue_position = hello["queue_position"]
        await self.catch_up_and_resend()
        await self.keep_epoch_current()

    def on_frame(self, frame: dict[str, Any]) -> None:
        if self.resolve(frame):
            return
        if frame["type"] == frames.EVENT:
            if frame["event"]["seq"] == self.last_seq + 1:
                self.apply(frame["event"])
                asyncio.get_running_loop().create_task(self.keep_epoch_current())
            elif frame["event"]["seq"] > self.last_seq + 1:
                asyncio.get_running_loop().create_task(self.sync())
        elif frame["type"] == frames.QUEUE:
            self.queue_position = frame["position"]
            self.changed.set()

    async def keep_epoch_current(self) -> None:
        """Make a new epoch when someone joined since the latest one (a few rounds at most)."""
        for _ in range(3):
            if self.state is None or self.state.latest_epoch is None or not self.needs_epoch():
                return
            try:
                await self.make_epoch()
            except ServerError as e:
                if e.code != "epoch_conflict":
                    raise
                await self.sync()

    async def rate(self, score: int) -> dict[str, Any]:
        """Rate the conversation once it has ended, from 1 (poor) to 5 (very good): a score the
        server stores in clear for the tenant's reports (docs/PROTOCOL.md)."""
        return await self.request(
            {"type": frames.RATE, "conversation": self.conversation, "score": score}
        )

    async def disconnect(self) -> None:
        """Drop the socket, as a closed laptop lid would."""
        if self.connection is not None:
            await self.connection.close()
        self.socket = None

    async def close(self) -> None:
        await self.disconnect()
        await self.session.close()


class AgentClient:
    """An agent's dashboard: logs in, registers a device, accepts offers, chats."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.keys = protocol.generate_device()
        # unsafe=True keeps cookies of servers addressed by IP, such as 127.0.0.1.
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.connection: Connection | None = None
        self.socket: aiohttp.ClientWebSocketResponse | None = None
        self.tenant = ""
        self.offers: dict[int, dict[str, Any]] = {}
        self.conversations: dict[str, ConversationClient] = {}
        self.changed = asyncio.Event()
        self.errors: list[dict[str, Any]] = []
        self._refs = itertools.count(1)
        self.files = Files(self.session, f"{self.base_url}/dashboard/uploads", self._file_headers)
        self._pending_hello: asyncio.Future[dict[str, Any]] | None = None

    async def login(self) -> None:
        """Log in through the login form and register this client's public keys."""
        async with self.session.get(f"{self.base_url}/accounts/login/") as page:
            html = await page.text()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        if token is None:
            raise ServerError("no_login_form", "The login page has no CSRF token.")
        async with self.session.post(
            f"{self.base_url}/accounts/login/",
            data={
                "username": self.username,
                "password": self.password,
                "csrfmiddlewaretoken": token.group(1),
            },
            headers={"Referer": f"{self.base_url}/accounts/login/"},
            allow_redirects=False,
        ) as reply:
            if reply.status != 302:
                raise ServerError("login_failed", f"Login answered {reply.status}.")
        async with self.session.post(
            f"{self.base_url}/dashboard/devices/",
            json={
                "sign_public": base64.b64encode(self.keys.sign_public).decode(),
                "box_public": base64.b64encode(self.keys.box_public).decode(),
                "label": "sealdesk_client",
            },
            headers=self._csrf_headers(),
        ) as reply:
            body = await reply.json()
            if reply.status != 200:
                raise ServerError(body["code"], body["detail"])

    def _csrf_headers(self) -> dict[str, str]:
        csrf = self.session.cookie_jar.filter_cookies(URL(self.base_url)).get("csrftoken")
        return {"X-CSRFToken": csrf.value if csrf else "", "Referer": f"{self.base_url}/dashboard/"}

    def _file_headers(self) -> dict[str, str]:
        return {**self._csrf_headers(), "X-Sealdesk-Device": self.keys.device_id}

    async def connect(self) -> dict[str, Any]:
        """Open the dashboard socket; follow the conversations the agent works on."""
        self.connection = Connection(
            self.session,
            _ws_url(self.base_url, f"/ws/agent/?device={self.keys.device_id}"),
            self.base_url,
        )
        self._pending_hello = asyncio.get_running_loop().create_future()
        self.connection.on_frame = self.on_frame
        self.connection.on_close = partial(self._closed, self.connection)
        self.socket = await self.connection.open()
        async with asyncio.timeout(10):
            hello = await self._pending_hello
        self.tenant = hello["tenant"]["id"]
        for offer in hello["offers"]:
            self.offers[offer["id"]] = offer
        for conversation in hello["conversations"]:
            await self._follow(conversation)
        return hello

    def _closed(self, connection: Connection) -> None:
        if connection is not self.connection:
            return  # a later connect's socket is not this one's to fail
        if self._pending_hello is not None and not self._pending_hello.done():
            self._pending_hello.set_exception(ConnectionError("the socket closed before hello"))
        for client in self.conversations.values():
            client.connection_lost()

    def _client_for(self, conversation: dict[str, Any]) -> ConversationClient:
        client = self.conversations.get(conversation["id"])
        if client is None:
            client = ConversationClient(self.keys, conversation["tenant"], conversation["id"])
            client.role = "agent"
            # The agent's conversations share one socket, so their requests share one numbering.
            client._refs = self._refs
            client.set_customer_device(conversation["customer_device"])
            self.conversations[conversation["id"]] = client
        if client.socket is not self.socket:
            client._resent.clear()  # a new socket: _follow resends the outbox first
        client.socket = self.socket
        return client

    async def _follow(self, conversation: dict[str, Any]) -> None:
        client = self._client_for(conversation)
        await client.catch_up_and_resend()
        self.changed.set()

    def on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == frames.HELLO and self._pending_hello is not None:
            self._pending_hello.set_result(frame)
            return
        if any(client.resolve(frame) for client in self.conversations.values()):
            return
        if kind == frames.OFFER:
            self.offers[frame["offer"]["id"]] = frame["offer"]
        elif kind == frames.OFFER_GONE:
            self.offers.pop(frame["offer"], None)
        elif kind == frames.CONVERSATION:
            asyncio.get_running_loop().create_task(self._follow(frame["conversation"]))
        elif kind == frames.EVENT:
            client = self.conversations.get(frame["conversation"])
            if client is not None:
                if frame["event"]["seq"] == client.last_seq + 1:
                    client.apply(frame["event"])
                elif frame["event"]["seq"] > client.last_seq + 1:
                    asyncio.get_running_loop().create_task(client.sync())
        elif kind == frames.ERROR:
            self.errors.append(frame)
        self.changed.set()

    async def command(self, frame: dict[str, Any]) -> None:
        """Send a frame that has no reply of its own (accept, decline, presence, close)."""
        assert self.socket is not None
        await self.socket.send_str(json.dumps(frame))

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 10) -> None:
        """Wait until CONDITION holds after some frame, or raise TimeoutError."""
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    async def set_presence(self, presence: str) -> None:
        await self.command({"type": frames.PRESENCE_SET, "presence": presence})

    async def accept_offers(self, quota: int, timeout: float = 10) -> None:
        """Accept each offer this agent gets, once, until it took QUOTA (or is cancelled)."""
        answered: set[int] = set()
        while len(answered) < quota:
            await self.wait_until(lambda: any(o not in answered for o in self.offers), timeout)
            for offer in [o for o in self.offers if o not in answered][: quota - len(answered)]:
                answered.add(offer)
                await self.command({"type": frames.OFFER_ACCEPT, "offer": offer})

    async def accept_next_offer(self, timeout: float = 10) -> ConversationClient:
        """Wait for an offer, accept it, and return the conversation once its key arrived."""
        await self.wait_until(lambda: bool(self.offers), timeout)
        offer = next(iter(self.offers.values()))
        await self.command({"type": frames.OFFER_ACCEPT, "offer": offer["id"]})
        conversation_id = offer["conversation"]
        await self.wait_until(lambda: conversation_id in self.conversations, timeout)
        client = self.conversations[conversation_id]
        await client.wait_until(
            lambda: (
                client.state is not None
                and client.state.latest_epoch is not None
                and client.state.key_of(client.state.latest_epoch) is not None
                and self.keys.device_id
                in {m.device_id for m in client.state.members_of(client.state.latest_epoch)}
            ),
            timeout,
        )
        return client

    async def disconnect(self) -> None:
        if self.connection is not None:
            await self.connection.close()
        self.socket = None

    async def close(self) -> None:
        await self.disconnect()
        await self.session.close()
