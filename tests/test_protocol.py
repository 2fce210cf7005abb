"""The end-to-end encryption protocol v2 in Python: every shared vector, then round trips."""

import base64
import hashlib
import json
import os
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import pytest

from sealdesk_client import protocol as p
from tests.browser import chromium_page
from tests.vectors import generate

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "protocol-v2.json").read_text(encoding="utf-8")
)
TENANT = VECTORS["tenant"]
CONVERSATION = VECTORS["conversation"]
OTHER_CONVERSATION = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"
EPOCHS = VECTORS["epochs"]
WRAPS = VECTORS["wraps"]
MESSAGES = VECTORS["messages"]
STAFF = VECTORS["staff"]
FILES = VECTORS["files"]
CERTS = VECTORS["certificates"]

FILE_ID = "5f0c2a4e-8b3d-4c5e-9f60-7a8b9c0d1e2f"  # an upload's id


def unb64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def device(name: str) -> p.DeviceKeys:
    keys = VECTORS["devices"][name]
    return p.DeviceKeys(unb64(keys["sign_seed"]), unb64(keys["box_secret"]))


def chain() -> list[p.EpochRecord]:
    return [p.EpochRecord.from_json(epoch["record"]) for epoch in EPOCHS["valid"]]


def receiver(name: str, epochs: int = 3) -> p.ConversationState:
    """Return NAME's state after the first EPOCHS epochs of the vectors, without keys."""
    state = p.ConversationState(TENANT, CONVERSATION, device(name), EPOCHS["customer"])
    for record in chain()[:epochs]:
        state.accept_epoch(record)
    return state


def holder(name: str) -> p.ConversationState:
    """Return NAME's state after the epochs and the wraps addressed to it."""
    state = receiver(name)
    for case in WRAPS["valid"]:
        if case["recipient"] == name:
            state.accept_wrap(p.Wrap.from_json(case["wrap"]))
    return state


def reader() -> p.ConversationState:
    """Return the receiver of the message vectors after every message it accepts."""
    state = holder(MESSAGES["receiver"])
    for case in MESSAGES["accepted"]:
        state.receive(p.Envelope.from_json(case["envelope"]))
    return state


def refusal(action: Any) -> str:
    with pytest.raises(p.ProtocolError) as caught:
        action()
    return caught.value.code


def names(cases: list[dict[str, Any]]) -> list[str]:
    return [case["name"] for case in cases]


def chunks_of(case: dict[str, Any]) -> list[bytes]:
    """Return a file vector's plaintext cut into its chunks (an empty file is one empty chunk)."""
    data, size = unb64(case["data"]), case["chunk_size"]
    return [data[at : at + size] for at in range(0, max(len(data), 1), size)]


# The shared vectors (tests/js/protocol.test.mjs checks the same file).


def test_vector_file_is_what_the_generator_writes():
    path = Path(generate.__file__).with_name("protocol-v2.json")
    assert path.read_text(encoding="utf-8") == generate.render()


def test_device_ids_and_fingerprints_follow_from_the_keys():
    for name, expected in VECTORS["devices"].items():
        keys = device(name)
        assert base64.b64encode(keys.sign_public).decode() == expected["sign_public"]
        assert base64.b64encode(keys.box_public).decode() == expected["box_public"]
        assert p.device_id(keys.sign_public, keys.box_public) == expected["device_id"]
        assert keys.device_id == expected["device_id"]
        assert p.fingerprint(keys.device_id) == expected["fingerprint"]


def org_key(name: str) -> p.OrgKey:
    return p.OrgKey(unb64(CERTS[name]["seed"]))


def vector_trust() -> p.Trust:
    """Return the trust a receiver builds from the pinned organisation key of the vectors."""
    pinned = unb64(CERTS["org"]["public"])
    rotations = [p.Rotation.from_json(r) for r in CERTS["rotations"]]
    trusted = p.trusted_org_keys(TENANT, pinned, rotations)
    revocations = [p.Revocation.from_json(r) for r in CERTS["revocations"]]
    return p.Trust(TENANT, tuple(trusted), p.revoked_devices(TENANT, trusted, revocations))


def test_organisation_keys_and_certificates_are_made_exactly_as_in_the_vectors():
    for name in ("org", "next", "other"):
        key = org_key(name)
        assert (p._b64(key.public_key), key.id) == (CERTS[name]["public"], CERTS[name]["id"])
        assert p.fingerprint(key.id) == CERTS[name]["fingerprint"]
    for case in CERTS["made"]:
        cert = p.Certificate.from_json(case["cert"])
        assert (cert.text().decode(), cert.hash()) == (case["text"], case["hash"])
        keys = p.Member(cert.device_id, cert.role, cert.sign_public, cert.box_public)
        remade = p.certify(
            org_key("org"),
            tenant=cert.tenant,
            person=cert.person,
            name=cert.name,
            role=cert.role,
            device=keys,
            issued=cert.issued,
            expires=cert.expires,
        )
        assert remade == cert
    rotation = p.Rotation.from_json(CERTS["rotations"][0])
    assert rotation.text().decode() == CERTS["rotation_text"]
    assert p.rotate_org_key(org_key("org"), TENANT, rotation.new, rotation.time) == rotation
    revocation = p.Revocation.from_json(CERTS["revocations"][0])
    assert revocation.text().decode() == CERTS["revocation_text"]


def test_trust_follows_signed_rotations_and_signed_revocations_only():
    trust = vector_trust()
    assert [p._b64(key) for key in trust.org_keys] == CERTS["trusted"]
    assert trust.revoked == CERTS["revoked"]


@pytest.mark.parametrize("case", CERTS["checks"], ids=names(CERTS["checks"]))
def test_a_member_is_accepted_only_with_a_certificate_that_held_when_the_epoch_was_made(case):
    member = p.Member.from_json(case["member"])
    member.validate()
    if case["code"] is None:
        vector_trust().check(member, case["made"])
    else:
        assert refusal(lambda: vector_trust().check(member, case["made"])) == case["code"]


@pytest.mark.parametrize("case", CERTS["malformed"], ids=names(CERTS["malformed"]))
def test_a_malformed_certificate_is_refused(case):
    assert refusal(lambda: p.Certificate.from_json(case["cert"])) == case["code"]
    member = {**CERTS["checks"][0]["member"], "cert": case["cert"]}
    assert refusal(lambda: p.Member.from_json(member)) == "bad_epoch"


def test_a_receiver_that_trusts_the_organisation_accepts_its_certified_chain_only():
    state = p.ConversationState(
        TENANT, CONVERSATION, device("customer"), EPOCHS["customer"], vector_trust()
    )
    for record in chain():
        state.accept_epoch(record)
    customer, _, records, _ = conversation()
    strict = p.ConversationState(TENANT, CONVERSATION, customer, customer.device_id, vector_trust())
    strict.accept_epoch(records[0])
    assert refusal(lambda: strict.accept_epoch(records[1])) == "uncertified"
    assert strict.latest_epoch == 0


def test_padding_reaches_the_next_block_and_unpads_back():
    for case in VECTORS["padding"]["valid"]:
        data, padded = unb64(case["data"]), unb64(case["padded"])
        assert p.pad(data) == padded
        assert p.unpad(padded) == data


@pytest.mark.parametrize(
    "case", VECTORS["padding"]["malformed"], ids=names(VECTORS["padding"]["malformed"])
)
def test_malformed_padding_is_refused(case):
    assert refusal(lambda: p.unpad(unb64(case["padded"]))) == "malformed"


def test_safety_numbers_are_those_of_the_vectors_whatever_the_order_of_members():
    for record, expected in zip(chain(), EPOCHS["safety_numbers"], strict=True):
        assert p.safety_number(record.members) == expected
        assert p.safety_number(list(reversed(record.members))) == expected
        assert len(expected) == 71 and expected.replace(" ", "").isdigit()


def test_epoch_records_are_made_exactly_as_in_the_vectors():
    customer, agent = device("customer"), device("agent")
    made = [record["record"]["made"] for record in EPOCHS["valid"]]
    certified = {c["cert"]["role"]: p.Certificate.from_json(c["cert"]) for c in CERTS["made"]}
    alice = device("agent").member("agent", certified["agent"])
    sam = device("supervisor").member("supervisor", certified["supervisor"])
    me = customer.member("customer")
    e0 = p.make_epoch(customer, TENANT, CONVERSATION, None, [me], made[0])
    e1 = p.make_epoch(customer, TENANT, CONVERSATION, e0, [alice, me], made[1])
    e2 = p.make_epoch(agent, TENANT, CONVERSATION, e1, [sam, alice, me], made[2])
    for record, expected in zip((e0, e1, e2), EPOCHS["valid"], strict=True):
        assert record.to_json() == expected["record"]
        assert record.text().decode() == expected["text"]
        assert record.hash() == expected["hash"]


def test_epoch_chain_is_accepted_in_order():
    records = chain()
    previous = None
    for record in records:
        p.verify_epoch(record, previous, EPOCHS["customer"])
        previous = record
    state = receiver("outsider")
    assert state.latest_epoch == 2
    assert [m.device_id for m in state.members_of(1)] == [m.device_id for m in records[1].members]


@pytest.mark.parametrize("case", EPOCHS["refused"], ids=names(EPOCHS["refused"]))
def test_refused_epoch_record_leaves_a_receiver_where_it_was(case):
    held = 0 if case["previous"] is None else case["previous"] + 1
    state = receiver("agent", epochs=held)
    code = refusal(lambda: state.accept_epoch(p.EpochRecord.from_json(case["record"])))
    assert code == case["code"]
    assert state.latest_epoch == (None if held == 0 else held - 1)


def test_wraps_are_made_exactly_as_in_the_vectors():
    for case in WRAPS["valid"]:
        made = p.Wrap.from_json(case["wrap"])
        wrapper, recipient = device(case["wrapper"]), device(case["recipient"])
        remade = p.wrap_key(
            wrapper,
            recipient.member("agent"),
            TENANT,
            CONVERSATION,
            made.epoch,
            unb64(case["key"]),
            nonce=made.nonce,
        )
        assert remade == made


def test_each_member_opens_its_wraps_including_history_shares():
    expected = [unb64(epoch["key"]) for epoch in EPOCHS["valid"]]
    for name in ("customer", "agent", "supervisor"):
        state = holder(name)
        assert [state.key_of(epoch) for epoch in range(len(expected))] == expected


@pytest.mark.parametrize("case", WRAPS["refused"], ids=names(WRAPS["refused"]))
def test_refused_wrap_is_bad_wrap_and_gives_no_key(case):
    state = receiver(case["recipient"])
    assert refusal(lambda: state.accept_wrap(p.Wrap.from_json(case["wrap"]))) == case["code"]
    assert [state.key_of(epoch) for epoch in range(4)] == [None] * 4


def message_cases() -> list[dict[str, Any]]:
    removed: list[dict[str, Any]] = MESSAGES["removed"]["accepted"]
    return [*MESSAGES["accepted"], *MESSAGES["then_accepted"], *removed]


def record_of(epoch: int) -> p.EpochRecord:
    return [*chain(), p.EpochRecord.from_json(MESSAGES["removed"]["record"])][epoch]


def test_messages_are_made_exactly_as_in_the_vectors():
    for case in message_cases():
        made = p.Envelope.from_json(case["envelope"])
        remade = p.encrypt_message(
            device(case["sender"]),
            TENANT,
            CONVERSATION,
            record_of(made.epoch),
            unb64(case["key"]),
            made.seq,
            case["plaintext"],
            after=made.after,
            nonce=made.nonce,
        )
        assert remade == made
        fields = (made.sender, made.seq, made.after, made.nonce, made.ct)
        text = p.message_text(TENANT, CONVERSATION, record_of(made.epoch), *fields)
        assert text.decode() == case["text"]


def test_the_transcript_heads_are_those_of_the_vectors():
    state = receiver(MESSAGES["receiver"], epochs=0)
    assert state.after == MESSAGES["start"]
    for record, head in zip(chain(), MESSAGES["epoch_heads"], strict=True):
        state.accept_epoch(record)
        assert state.after == head
    for case in MESSAGES["accepted"]:
        state.witness(p.Envelope.from_json(case["envelope"]))
        assert state.after == case["head"]


def test_accepted_messages_read_in_order_across_epochs():
    state = holder(MESSAGES["receiver"])
    for case in MESSAGES["accepted"]:
        assert state.receive(p.Envelope.from_json(case["envelope"])) == case["plaintext"]
        assert state.after == case["head"]


def test_messages_witnessed_before_their_key_arrives_open_once_it_does():
    state = receiver(MESSAGES["receiver"])
    envelopes = [p.Envelope.from_json(case["envelope"]) for case in MESSAGES["accepted"]]
    for envelope in envelopes:
        state.witness(envelope)
    assert refusal(lambda: state.open(envelopes[0])) == "unknown_epoch"
    for case in WRAPS["valid"]:
        if case["recipient"] == MESSAGES["receiver"]:
            state.accept_wrap(p.Wrap.from_json(case["wrap"]))
    opened = [state.open(envelope) for envelope in envelopes]
    assert opened == [case["plaintext"] for case in MESSAGES["accepted"]]


def test_a_member_left_out_of_the_latest_epoch_may_no_longer_post():
    state = reader()
    for case in MESSAGES["then_accepted"]:
        state.receive(p.Envelope.from_json(case["envelope"]))
    removed = MESSAGES["removed"]
    state.accept_epoch(p.EpochRecord.from_json(removed["record"]))
    assert state.after == removed["head"]
    for case in removed["refused"]:
        assert (
            refusal(lambda c=case: state.receive(p.Envelope.from_json(c["envelope"])))
            == (case["code"])
        )
    for case in removed["accepted"]:
        assert state.receive(p.Envelope.from_json(case["envelope"])) == case["plaintext"]
        assert state.after == case["head"]


@pytest.mark.parametrize("case", MESSAGES["refused"], ids=names(MESSAGES["refused"]))
def test_refused_message_names_the_failed_check(case):
    state = reader()
    assert refusal(lambda: state.receive(p.Envelope.from_json(case["envelope"]))) == case["code"]


def test_refused_messages_do_not_move_any_senders_counter():
    state = reader()
    for case in MESSAGES["refused"]:
        if not case["witnessed"]:
            refusal(lambda case=case: state.receive(p.Envelope.from_json(case["envelope"])))
    for case in MESSAGES["then_accepted"]:
        assert state.receive(p.Envelope.from_json(case["envelope"])) == case["plaintext"]


@pytest.mark.parametrize(
    "case",
    [case for case in MESSAGES["refused"] if case["witnessed"]],
    ids=names([case for case in MESSAGES["refused"] if case["witnessed"]]),
)
def test_a_signed_message_no_member_can_read_still_takes_its_place(case):
    state = reader()
    seen = len(state.transcript)
    assert refusal(lambda: state.receive(p.Envelope.from_json(case["envelope"]))) == case["code"]
    assert len(state.transcript) == seen + 1
    next_text = p.Envelope.from_json(MESSAGES["then_accepted"][0]["envelope"])
    assert refusal(lambda: state.receive(next_text)) == "replayed"


# Staff-only messages (docs/PROTOCOL.md, "Staff-only messages").


def staff_holder(name: str) -> p.ConversationState:
    """Return NAME's state holding its epoch keys and the staff keys wrapped to it."""
    state = holder(name)
    for case in STAFF["wraps"]["valid"]:
        if case["recipient"] == name:
            state.accept_wrap(p.Wrap.from_json(case["wrap"]))
    return state


def test_staff_keys_are_wrapped_exactly_as_in_the_vectors():
    for case in STAFF["wraps"]["valid"]:
        made = p.Wrap.from_json(case["wrap"])
        assert made.staff and case["wrap"]["scope"] == "staff"
        remade = p.wrap_key(
            device(case["wrapper"]),
            device(case["recipient"]).member("agent"),
            TENANT,
            CONVERSATION,
            made.epoch,
            unb64(case["key"]),
            nonce=made.nonce,
            staff=True,
        )
        assert remade == made


def test_staff_keys_open_for_staff_and_leave_the_epoch_keys_alone():
    state = staff_holder("supervisor")
    assert state.staff_key_of(2) == unb64(STAFF["keys"]["2"])
    assert state.staff_key_of(1) == unb64(STAFF["keys"]["1"])
    assert state.key_of(2) == unb64(EPOCHS["valid"][2]["key"])


@pytest.mark.parametrize("case", STAFF["wraps"]["refused"], ids=names(STAFF["wraps"]["refused"]))
def test_refused_staff_wrap_gives_no_key_of_either_kind(case):
    state = receiver(case["recipient"])
    assert refusal(lambda: state.accept_wrap(p.Wrap.from_json(case["wrap"]))) == case["code"]
    assert [state.staff_key_of(e) for e in range(3)] == [None] * 3
    assert [state.key_of(e) for e in range(3)] == [None] * 3


def test_staff_notes_are_made_and_read_exactly_as_in_the_vectors():
    case = STAFF["messages"]["accepted"][0]
    made = p.Envelope.from_json(case["envelope"])
    assert made.staff
    remade = p.encrypt_message(
        device(case["sender"]),
        TENANT,
        CONVERSATION,
        chain()[2],
        unb64(case["key"]),
        made.seq,
        case["plaintext"],
        after=made.after,
        nonce=made.nonce,
        staff=True,
    )
    assert remade == made
    fields = (made.sender, made.seq, made.after, made.nonce, made.ct)
    assert p.message_text(TENANT, CONVERSATION, chain()[2], *fields, True).decode() == case["text"]
    state = staff_holder(STAFF["messages"]["receiver"])
    assert state.receive(made) == case["plaintext"]
    assert state.after == case["head"]


def test_a_note_cannot_be_sealed_for_everyone_nor_a_text_for_staff():
    agent = device("agent")
    note = STAFF["messages"]["accepted"][0]["plaintext"]
    after = MESSAGES["epoch_heads"][2]
    key = unb64(STAFF["keys"]["2"])
    with pytest.raises(ValueError, match="malformed"):
        p.encrypt_message(agent, TENANT, CONVERSATION, chain()[2], key, 1, note, after=after)
    text = {"type": "text", "body": "Hi", "sent_at": note["sent_at"]}
    with pytest.raises(ValueError, match="malformed"):
        p.encrypt_message(
            agent, TENANT, CONVERSATION, chain()[2], key, 1, text, after=after, staff=True
        )


@pytest.mark.parametrize(
    "case", STAFF["messages"]["refused"], ids=names(STAFF["messages"]["refused"])
)
def test_refused_staff_message_names_the_failed_check(case):
    state = staff_holder(STAFF["messages"]["receiver"])
    seen = len(state.transcript)
    assert refusal(lambda: state.receive(p.Envelope.from_json(case["envelope"]))) == case["code"]
    assert len(state.transcript) == seen + (1 if case["witnessed"] else 0)


def test_a_supervisors_barge_is_a_message_for_everyone():
    case = STAFF["messages"]["barge"]
    made = p.Envelope.from_json(case["envelope"])
    for name in ("customer", "supervisor"):
        state = staff_holder(name)
        state.witness(p.Envelope.from_json(STAFF["messages"]["accepted"][0]["envelope"]))
        assert state.receive(made) == case["plaintext"]
        assert case["plaintext"]["type"] == "barge"
        assert state.after == case["head"]


def test_the_customers_device_witnesses_a_note_and_cannot_open_it():
    customer = STAFF["messages"]["customer"]
    state = staff_holder(customer["receiver"])
    note = p.Envelope.from_json(STAFF["messages"]["accepted"][0]["envelope"])
    assert refusal(lambda: state.receive(note)) == customer["code"]
    # It took its place: the customer's transcript is every member's.
    assert state.after == customer["head"]


@pytest.mark.parametrize("case", FILES["valid"], ids=names(FILES["valid"]))
def test_files_are_sealed_exactly_as_in_the_vectors(case):
    plaintext = case["plaintext"]
    key, prefix, chunk_size = unb64(case["key"]), unb64(case["prefix"]), case["chunk_size"]
    size = len(unb64(case["data"]))
    encryptor = p.FileEncryptor(size, chunk_size, key, prefix)
    assert encryptor.chunks == p.chunk_count(size, chunk_size) == len(case["parts"])
    last = encryptor.chunks - 1
    for index, chunk in enumerate(chunks_of(case)):
        assert p.file_nonce(prefix, index, index == last) == unb64(case["nonces"][index])
        part = encryptor.encrypt(index, chunk)
        assert part == unb64(case["parts"][index])
        assert len(part) == p.part_length(size, chunk_size, index)
    assert encryptor.hash() == case["hash"] == plaintext["hash"]
    made = encryptor.announcement(plaintext["file"], plaintext["name"], plaintext["mime"])
    assert {**made, "sent_at": plaintext["sent_at"]} == plaintext


@pytest.mark.parametrize("case", FILES["valid"], ids=names(FILES["valid"]))
def test_files_open_part_by_part_and_match_their_hash(case):
    decryptor = p.FileDecryptor(case["plaintext"])
    assert (decryptor.size, decryptor.chunk_size) == (len(unb64(case["data"])), case["chunk_size"])
    assert (decryptor.key, decryptor.prefix) == (unb64(case["key"]), unb64(case["prefix"]))
    opened = [decryptor.decrypt(i, unb64(part)) for i, part in enumerate(case["parts"])]
    decryptor.finish()
    assert opened == chunks_of(case)


@pytest.mark.parametrize("case", FILES["refused"], ids=names(FILES["refused"]))
def test_refused_file_is_bad_file_at_the_part_that_shows_it(case):
    decryptor = p.FileDecryptor(case["plaintext"])
    parts, at = [unb64(part) for part in case["parts"]], case["refused_at"]
    for index, part in enumerate(parts[:at]):
        decryptor.decrypt(index, part)
    if at is None:
        assert refusal(decryptor.finish) == case["code"]
    else:
        assert refusal(lambda: decryptor.decrypt(at, parts[at])) == case["code"]


def first_message(sender: p.DeviceKeys, plaintext: Any, key: bytes | None = None) -> p.Envelope:
    """Return SENDER's first message of a conversation it opened, in epoch 0."""
    record = p.make_epoch(sender, TENANT, CONVERSATION, None, [sender.member("customer")])
    after = p.Transcript(TENANT, CONVERSATION).add("epoch", record.hash())
    key = p.new_epoch_key() if key is None else key
    return p.encrypt_message(sender, TENANT, CONVERSATION, record, key, 1, plaintext, after=after)


@pytest.mark.parametrize("case", FILES["announced"], ids=names(FILES["announced"]))
def test_files_announced_at_the_limits_are_accepted(case):
    decryptor = p.FileDecryptor(case["plaintext"])
    assert decryptor.chunks == int(case["plaintext"]["chunks"])
    first_message(device("customer"), case["plaintext"])


@pytest.mark.parametrize("case", FILES["malformed"], ids=names(FILES["malformed"]))
def test_malformed_file_plaintext_is_refused_by_receivers_and_senders(case):
    assert refusal(lambda: p.FileDecryptor(case["plaintext"])) == case["code"]
    with pytest.raises(ValueError, match="would refuse"):
        first_message(device("customer"), case["plaintext"])


# Round trips with fresh keys.


def text(body: str) -> dict[str, str]:
    return {"type": "text", "body": body, "sent_at": "2026-11-28T09:00:00Z"}


def conversation() -> tuple[p.DeviceKeys, p.DeviceKeys, list[p.EpochRecord], list[bytes]]:
    """Return a customer, an agent, and epochs 0 and 1 with their keys."""
    customer, agent = p.generate_device(), p.generate_device()
    e0 = p.make_epoch(customer, TENANT, CONVERSATION, None, [customer.member("customer")])
    members = [customer.member("customer"), agent.member("agent")]
    e1 = p.make_epoch(customer, TENANT, CONVERSATION, e0, members)
    return customer, agent, [e0, e1], [p.new_epoch_key(), p.new_epoch_key()]


def joined(keys: p.DeviceKeys, customer: p.DeviceKeys, records, epoch_keys) -> p.ConversationState:
    """Return KEYS's state once the customer wrapped every epoch key for it."""
    state = p.ConversationState(TENANT, CONVERSATION, keys, customer.device_id)
    for record in records:
        state.accept_epoch(record)
    for epoch, key in enumerate(epoch_keys):
        member = keys.member("agent")
        state.accept_wrap(p.wrap_key(customer, member, TENANT, CONVERSATION, epoch, key))
    return state


def head(records: list[p.EpochRecord], conversation: str = CONVERSATION) -> str:
    """Return the transcript hash of a device that accepted RECORDS and nothing else."""
    return p.head_after(TENANT, conversation, records)


def seal(
    sender: p.DeviceKeys,
    records: list[p.EpochRecord],
    keys: list[bytes],
    epoch: int,
    seq: int,
    plaintext: dict[str, Any],
    conversation: str = CONVERSATION,
    key: bytes | None = None,
) -> p.Envelope:
    """Return SENDER's message SEQ in EPOCH, written having seen the epochs up to it."""
    return p.encrypt_message(
        sender,
        TENANT,
        conversation,
        records[epoch],
        keys[epoch] if key is None else key,
        seq,
        plaintext,
        after=head(records[: epoch + 1]),
    )


def test_customer_and_agent_read_each_other():
    customer, agent, records, keys = conversation()
    at_customer = joined(customer, customer, records, keys)
    at_agent = joined(agent, customer, records, keys)
    question = seal(customer, records, keys, 0, at_customer.next_seq(), text("Hello?"))
    answer = seal(agent, records, keys, 1, at_agent.next_seq(), text("Hi, how can I help?"))
    for state in (at_customer, at_agent):
        assert state.receive(question) == text("Hello?")
        assert state.receive(answer) == text("Hi, how can I help?")
    assert at_customer.after == at_agent.after
    assert at_customer.next_seq() == 2
    assert at_agent.next_seq() == 2


def test_a_reply_shown_before_what_it_answers_is_refused():
    """The server cannot move an answer above the question its writer had read."""
    customer, agent, records, keys = conversation()
    at_customer = joined(customer, customer, records, keys)
    at_agent = joined(agent, customer, records, keys)
    question = seal(customer, records, keys, 1, 1, text("Cancel order 1?"))
    at_agent.receive(question)
    answer = p.encrypt_message(
        agent, TENANT, CONVERSATION, records[1], keys[1], 1, text("Yes."), after=at_agent.after
    )
    assert refusal(lambda: at_customer.receive(answer)) == "bad_transcript"
    at_customer.receive(question)
    assert at_customer.receive(answer) == text("Yes.")


def test_members_shown_different_orders_see_it_at_the_next_message():
    """A fork: the server shows two members the same messages in different orders."""
    customer, agent, records, keys = conversation()
    at_agent = joined(agent, customer, records, keys)
    at_customer = joined(customer, customer, records, keys)
    one = seal(customer, records, keys, 1, 1, text("one"))
    two = seal(agent, records, keys, 1, 1, text("two"))
    at_agent.receive(two)
    at_agent.receive(one)
    at_customer.receive(one)
    at_customer.receive(two)
    assert at_agent.after != at_customer.after
    reply = p.encrypt_message(
        agent, TENANT, CONVERSATION, records[1], keys[1], 2, text("three"), after=at_agent.after
    )
    assert refusal(lambda: at_customer.receive(reply)) == "bad_transcript"


def test_message_moved_to_another_conversation_is_refused():
    customer, agent, records, keys = conversation()
    elsewhere = seal(agent, records, keys, 1, 1, text("Hi"), OTHER_CONVERSATION)
    state = joined(customer, customer, records, keys)
    assert refusal(lambda: state.receive(elsewhere)) == "bad_signature"
    signed = (TENANT, CONVERSATION, records[1], elsewhere, agent.sign_public)
    assert not p.verify_envelope_signature(*signed)
    signed = (TENANT, OTHER_CONVERSATION, records[1], elsewhere, agent.sign_public)
    assert p.verify_envelope_signature(*signed)


def test_a_withheld_message_leaves_every_later_one_of_its_sender_refused():
    customer, agent, records, keys = conversation()
    state = joined(customer, customer, records, keys)
    sent = [seal(agent, records, keys, 1, seq, text(f"message {seq}")) for seq in (1, 2, 3)]
    state.receive(sent[0])
    assert refusal(lambda: state.receive(sent[2])) == "out_of_order"
    assert refusal(lambda: state.receive(sent[2])) == "out_of_order"
    assert state.receive(sent[1]) == text("message 2")
    assert state.receive(sent[2]) == text("message 3")


def test_a_message_signed_but_not_decryptable_still_takes_its_number():
    """Its sender signed it: every member witnesses it alike, and none can read it."""
    customer, agent, records, keys = conversation()
    state = joined(customer, customer, records, keys)
    wrong_key = seal(agent, records, keys, 1, 1, text("Hi"), key=keys[0])
    assert refusal(lambda: state.receive(wrong_key)) == "undecryptable"
    assert refusal(lambda: state.receive(seal(agent, records, keys, 1, 1, text("Hi")))) == (
        "replayed"
    )
    assert state.receive(seal(agent, records, keys, 1, 2, text("Hi"))) == text("Hi")


def test_an_epoch_that_leaves_its_creator_out_is_refused_and_not_made():
    customer, agent, records, _ = conversation()
    stranger = p.generate_device()
    members = [customer.member("customer"), stranger.member("agent")]
    with pytest.raises(ValueError, match="would refuse"):
        p.make_epoch(agent, TENANT, CONVERSATION, records[1], members)


def test_a_small_order_signing_key_signs_nothing():
    identity = bytes([1]) + bytes(31)
    universal = identity + bytes(32)
    assert p.is_small_order(identity)
    assert not p._verify(identity, b"any text at all", universal)
    customer = p.generate_device()
    assert not p.is_small_order(customer.sign_public)


def test_a_second_different_key_for_an_epoch_is_refused():
    customer, agent, records, keys = conversation()
    state = joined(agent, customer, records, keys)
    other = p.wrap_key(customer, agent.member("agent"), TENANT, CONVERSATION, 1, p.new_epoch_key())
    assert refusal(lambda: state.accept_wrap(other)) == "bad_wrap"
    assert state.key_of(1) == keys[1]
    same = p.wrap_key(customer, agent.member("agent"), TENANT, CONVERSATION, 1, keys[1])
    state.accept_wrap(same)
    assert state.key_of(1) == keys[1]


def test_an_accepted_epoch_may_come_again_but_not_changed():
    customer, agent, records, _ = conversation()
    state = p.ConversationState(TENANT, CONVERSATION, agent, customer.device_id)
    for record in records + records:
        state.accept_epoch(record)
    assert state.latest_epoch == 1
    other = p.make_epoch(customer, TENANT, CONVERSATION, records[0], [customer.member("customer")])
    assert refusal(lambda: state.accept_epoch(other)) == "bad_epoch"


def test_epoch_0_of_another_customer_device_is_refused():
    _, agent, records, _ = conversation()
    state = p.ConversationState(TENANT, CONVERSATION, agent, p.generate_device().device_id)
    assert refusal(lambda: state.accept_epoch(records[0])) == "bad_epoch"


def test_a_wrap_for_a_low_order_key_is_refused():
    customer = p.generate_device()
    low = p.Member("0" * 32, "agent", customer.sign_public, bytes(32))
    code = refusal(lambda: p.wrap_key(customer, low, TENANT, CONVERSATION, 0, p.new_epoch_key()))
    assert code == "bad_wrap"


def test_plaintext_up_to_16384_bytes_is_sent_and_one_byte_more_is_not():
    customer, _, records, keys = conversation()
    state = joined(customer, customer, records, keys)
    largest = {"type": "prechat", "name": "", "email": "", "question": "", "sent_at": ""}
    largest["question"] = "?" * (16_384 - len(json.dumps(largest, separators=(",", ":"))))
    envelope = seal(customer, records, keys, 0, 1, largest)
    assert len(envelope.ct) == 16_640 + 16
    assert state.receive(envelope) == largest
    too_large = {**largest, "question": largest["question"] + "?"}
    with pytest.raises(ValueError, match="would refuse"):
        seal(customer, records, keys, 0, 2, too_large)


@pytest.mark.parametrize(
    "plaintext",
    [
        {"type": "image", "name": "x.png", "sent_at": "2026-11-28T09:00:00Z"},
        {"type": "file", "name": "x.pdf", "sent_at": "2026-11-28T09:00:00Z"},
        {"type": "text", "body": "x" * 8_001, "sent_at": "2026-11-28T09:00:00Z"},
        {"type": "text", "body": "Hi"},
        {"type": "text", "body": float("nan"), "sent_at": "2026-11-28T09:00:00Z"},
        ["text", "Hi"],
    ],
    ids=[
        "unknown type",
        "file without its fields",
        "body too long",
        "missing sent_at",
        "NaN body",
        "not an object",
    ],
)
def test_senders_refuse_what_receivers_would_refuse(plaintext):
    with pytest.raises(ValueError, match=r"would refuse|Out of range"):
        first_message(p.generate_device(), plaintext)


@pytest.mark.parametrize(
    ("tenant", "conversation"),
    [
        ("acme\nmember", CONVERSATION),
        ("", CONVERSATION),
        ("a" * 65, CONVERSATION),
        (TENANT, CONVERSATION.upper()),
        (TENANT, CONVERSATION + "\n"),
    ],
    ids=["tenant with a newline", "empty tenant", "long tenant", "upper case", "trailing newline"],
)
def test_ids_that_could_break_a_signed_text_are_refused(tenant, conversation):
    keys = p.generate_device()
    with pytest.raises(ValueError, match="not one the protocol allows"):
        p.make_epoch(keys, tenant, conversation, None, [keys.member("customer")])


def test_make_epoch_refuses_a_creator_outside_the_previous_epoch():
    customer, _, records, _ = conversation()
    outsider = p.generate_device()
    members = [customer.member("customer"), outsider.member("agent")]
    with pytest.raises(ValueError, match="would refuse"):
        p.make_epoch(outsider, TENANT, CONVERSATION, records[1], members)


def test_records_wraps_envelopes_and_members_survive_json():
    customer, agent, records, keys = conversation()
    wrap = p.wrap_key(customer, agent.member("agent"), TENANT, CONVERSATION, 1, keys[1])
    envelope = seal(agent, records, keys, 1, 1, text("Hi"))
    for item in (records[1], wrap, envelope, agent.member("agent")):
        travelled = json.loads(json.dumps(item.to_json()))
        assert type(item).from_json(travelled) == item


def test_device_secrets_stay_out_of_repr():
    keys = p.generate_device()
    assert base64.b64encode(keys.sign_seed).decode() not in repr(keys)
    assert repr(keys.sign_seed) not in repr(keys)
    assert repr(keys.box_secret) not in repr(keys)


def sealed(data: bytes, chunk_size: int) -> tuple[dict[str, str], list[bytes]]:
    """Return the announcement and the parts of DATA, sealed under fresh keys."""
    encryptor = p.FileEncryptor(len(data), chunk_size)
    parts = [
        encryptor.encrypt(i, data[i * chunk_size : (i + 1) * chunk_size])
        for i in range(encryptor.chunks)
    ]
    return encryptor.announcement(str(uuid.uuid4()), "notes.txt", "text/plain"), parts


def test_a_refused_part_changes_nothing_and_the_right_one_still_opens():
    announcement, parts = sealed(b"x" * 100, 40)
    decryptor = p.FileDecryptor(announcement)
    assert decryptor.decrypt(0, parts[0]) == b"x" * 40
    assert refusal(lambda: decryptor.decrypt(1, parts[0])) == "bad_file"
    assert refusal(lambda: decryptor.decrypt(2, parts[2])) == "bad_file"
    assert refusal(lambda: decryptor.decrypt(0, parts[0])) == "bad_file"
    assert refusal(decryptor.finish) == "bad_file"
    assert decryptor.decrypt(1, parts[1]) == b"x" * 40
    assert decryptor.decrypt(2, parts[2]) == b"x" * 20
    decryptor.finish()
    assert refusal(lambda: decryptor.decrypt(3, parts[2])) == "bad_file"


def test_a_file_announcement_travels_in_a_message_and_opens_the_file():
    customer, agent, records, keys = conversation()
    at_agent = joined(agent, customer, records, keys)
    announcement, parts = sealed(b"%PDF-1.7 ...", p.CHUNK_SIZE)
    plaintext = {**announcement, "sent_at": "2026-11-28T09:00:00Z"}
    envelope = seal(customer, records, keys, 1, 1, plaintext)
    received = at_agent.receive(envelope)
    assert received == plaintext
    decryptor = p.FileDecryptor(received)
    assert decryptor.decrypt(0, parts[0]) == b"%PDF-1.7 ..."
    decryptor.finish()


def test_only_file_plaintexts_open_files():
    announcement, _ = sealed(b"", 64)
    for wrong in ({**announcement, "type": "text"}, [announcement], None, {}):
        assert refusal(lambda wrong=wrong: p.FileDecryptor(wrong)) == "malformed"


def test_parts_are_made_in_order_each_once_from_chunks_of_the_right_length():
    encryptor = p.FileEncryptor(100, 40)
    with pytest.raises(ValueError, match="next part is 0"):
        encryptor.encrypt(1, bytes(40))
    with pytest.raises(ValueError, match="not the length"):
        encryptor.encrypt(0, bytes(39))
    encryptor.encrypt(0, bytes(40))
    with pytest.raises(ValueError, match="next part is 1"):
        encryptor.encrypt(0, bytes(40))
    encryptor.encrypt(1, bytes(40))
    with pytest.raises(ValueError, match="not the length"):
        encryptor.encrypt(2, bytes(40))
    with pytest.raises(ValueError, match="2 of 3 parts"):
        encryptor.hash()
    with pytest.raises(ValueError, match="2 of 3 parts"):
        encryptor.announcement(FILE_ID, "a.txt", "text/plain")
    encryptor.encrypt(2, bytes(20))
    with pytest.raises(ValueError, match="next part is 3"):
        encryptor.encrypt(3, b"")
    with pytest.raises(ValueError, match="at most 255"):
        encryptor.announcement(FILE_ID, "x" * 256, "text/plain")
    assert encryptor.announcement(FILE_ID, "a.txt", "text/plain")["hash"] == encryptor.hash()
    with pytest.raises(ValueError, match="UUID"):
        encryptor.announcement("../../dashboard/devices?x=", "a.txt", "text/plain")


def test_a_fresh_file_has_its_own_key_and_prefix_and_four_mebibyte_chunks():
    first, second = p.FileEncryptor(10), p.FileEncryptor(10)
    assert (first.chunk_size, first.chunks) == (4_194_304, 1)
    assert len(first.key) == 32 and len(first.prefix) == 16
    assert first.key != second.key and first.prefix != second.prefix


@pytest.mark.parametrize(
    ("size", "chunk_size"),
    [(-1, 64), (2**53, 4_194_304), (10, 0), (10, 4_194_305), (2**32 + 1, 1), (1.0, 64)],
    ids=[
        "negative",
        "beyond 2**53 - 1",
        "empty chunks",
        "huge chunks",
        "2**32 + 1 chunks",
        "float",
    ],
)
def test_file_numbers_outside_the_protocol_are_refused_to_callers(size, chunk_size):
    with pytest.raises(ValueError, match="a file has"):
        p.FileEncryptor(size, chunk_size)


def test_chunk_counts_part_lengths_and_nonces_follow_the_spec():
    assert [p.chunk_count(size, 64) for size in (0, 1, 64, 65, 128, 129)] == [1, 1, 1, 2, 2, 3]
    assert p.chunk_count(2**32, 1) == 2**32
    assert p.chunk_count(2**53 - 1, 4_194_304) == 2**31
    assert p.chunk_count(2**53 - 1, 4_194_303) == 2_147_484_161
    assert [p.part_length(129, 64, index) for index in range(3)] == [80, 80, 17]
    assert p.part_length(0, 64, 0) == 16
    prefix = bytes(range(16))
    assert p.file_nonce(prefix, 0x01020304, True) == prefix + bytes([1, 2, 3, 4, 0, 0, 0, 1])
    assert p.file_nonce(prefix, 2**32 - 1, False) == prefix + bytes([255] * 4 + [0] * 4)
    for mistake in (
        lambda: p.part_length(129, 64, 3),
        lambda: p.file_nonce(prefix, 2**32, True),
        lambda: p.file_nonce(prefix[:15], 0, True),
        lambda: p.FileEncryptor(10, 64, key=bytes(31)),
    ):
        with pytest.raises(ValueError, match="file"):
            mistake()


def stream_file(size: int, folder: Path) -> int:
    """Return the traced peak while SIZE random bytes are sealed to disk and opened back."""
    tracemalloc.start()
    try:
        encryptor = p.FileEncryptor(size)
        sent, received = hashlib.sha512(), hashlib.sha512()
        with (folder / "parts").open("wb") as upload:
            for index in range(encryptor.chunks):
                chunk = os.urandom(p.part_length(size, encryptor.chunk_size, index) - 16)
                sent.update(chunk)
                upload.write(encryptor.encrypt(index, chunk))
        announcement = encryptor.announcement(FILE_ID, "random.bin", "application/octet-stream")
        decryptor = p.FileDecryptor(announcement)
        with (folder / "parts").open("rb") as download:
            for index in range(decryptor.chunks):
                part = download.read(p.part_length(size, decryptor.chunk_size, index))
                received.update(decryptor.decrypt(index, part))
        decryptor.finish()
        assert received.digest() == sent.digest()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_3_mib_file_streams_through_in_memory_of_a_few_chunks(tmp_path):
    # Holding the file would take 3 MiB besides what sealing and opening one chunk take.
    peak = stream_file(3 * p.CHUNK_SIZE, tmp_path)
    assert peak < 4 * p.CHUNK_SIZE
    assert peak <= stream_file(p.CHUNK_SIZE, tmp_path) + 64 * 1024


# Chromium has base64 and hex built in (Uint8Array.fromBase64, toBase64, toHex), which
# protocol.js uses where they exist; node 20, which runs tests/js, has not. So the message
# vectors are read once more in Chromium, through the module as it ships: what they accept,
# what they refuse and with which code, and every transcript head (hex digests) the same.
READ_MESSAGE_VECTORS_IN_BROWSER = """async (vectors) => {
  const p = await import("/static/sealdesk/protocol.js");
  const bytes = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const { tenant, conversation, epochs, wraps, messages } = vectors;
  const device = (name) => p.importDevice({
    signSeed: bytes(vectors.devices[name].sign_seed),
    boxSecret: bytes(vectors.devices[name].box_secret),
  });
  async function holder() {
    const name = messages.receiver;
    const keys = await device(name);
    const state = new p.ConversationState(tenant, conversation, keys, epochs.customer);
    for (const { record } of epochs.valid.slice(0, 3)) {
      await state.acceptEpoch(p.EpochRecord.fromJSON(record));
    }
    for (const { recipient, wrap } of wraps.valid) {
      if (recipient === name) await state.acceptWrap(p.Wrap.fromJSON(wrap));
    }
    return state;
  }
  async function reader() {
    const state = await holder();
    for (const { envelope } of messages.accepted) {
      await state.receive(p.Envelope.fromJSON(envelope));
    }
    return state;
  }
  const native = typeof Uint8Array.fromBase64 === "function";
  const state = await holder();
  const accepted = [];
  for (const { envelope } of messages.accepted) {
    accepted.push([await state.receive(p.Envelope.fromJSON(envelope)), state.after]);
  }
  const refused = [];
  for (const { envelope } of messages.refused) {
    try {
      await (await reader()).receive(p.Envelope.fromJSON(envelope));
      refused.push("accepted");
    } catch (error) {
      refused.push(error instanceof p.ProtocolError ? error.code : String(error));
    }
  }
  return { native, accepted, refused };
}"""


def test_chromium_with_its_built_in_base64_and_hex_reads_the_message_vectors_alike():
    with chromium_page() as (page, problems):
        # The module and its vendored tweetnacl, served from disk at an origin of the test's own.
        static = Path(__file__).resolve().parent.parent / "static"

        def serve(route: Any) -> None:
            path = static / route.request.url.split("/static/", 1)[1]
            route.fulfill(path=str(path), content_type="text/javascript")

        page.route("http://vectors.test/static/**", serve)
        page.route("http://vectors.test/", lambda route: route.fulfill(body=""))
        page.goto("http://vectors.test/")
        result = page.evaluate(READ_MESSAGE_VECTORS_IN_BROWSER, VECTORS)
        assert problems.errors == []
    assert result["native"], "this Chromium has no built-in base64: the test reads nothing new"
    assert result["accepted"] == [[m["plaintext"], m["head"]] for m in MESSAGES["accepted"]]
    assert result["refused"] == [m["code"] for m in MESSAGES["refused"]]
