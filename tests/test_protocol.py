"""The end-to-end encryption protocol v1 in Python: every shared vector, then round trips."""

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from sealdesk_client import protocol as p
from tests.vectors import generate

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "protocol-v1.json").read_text(encoding="utf-8")
)
TENANT = VECTORS["tenant"]
CONVERSATION = VECTORS["conversation"]
OTHER_CONVERSATION = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"
EPOCHS = VECTORS["epochs"]
WRAPS = VECTORS["wraps"]
MESSAGES = VECTORS["messages"]


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


# The shared vectors (tests/js/protocol.test.mjs checks the same file).


def test_vector_file_is_what_the_generator_writes():
    path = Path(generate.__file__).with_name("protocol-v1.json")
    assert path.read_text(encoding="utf-8") == generate.render()


def test_device_ids_and_fingerprints_follow_from_the_keys():
    for name, expected in VECTORS["devices"].items():
        keys = device(name)
        assert base64.b64encode(keys.sign_public).decode() == expected["sign_public"]
        assert base64.b64encode(keys.box_public).decode() == expected["box_public"]
        assert p.device_id(keys.sign_public, keys.box_public) == expected["device_id"]
        assert keys.device_id == expected["device_id"]
        assert p.fingerprint(keys.device_id) == expected["fingerprint"]


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


def test_epoch_records_are_made_exactly_as_in_the_vectors():
    customer, agent, supervisor = device("customer"), device("agent"), device("supervisor")
    e0 = p.make_epoch(customer, TENANT, CONVERSATION, None, [customer.member("customer")])
    e1 = p.make_epoch(
        customer, TENANT, CONVERSATION, e0, [agent.member("agent"), customer.member("customer")]
    )
    members = [supervisor.member("supervisor"), agent.member("agent"), customer.member("customer")]
    e2 = p.make_epoch(agent, TENANT, CONVERSATION, e1, members)
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


def test_messages_are_made_exactly_as_in_the_vectors():
    for case in MESSAGES["accepted"] + MESSAGES["then_accepted"]:
        made = p.Envelope.from_json(case["envelope"])
        remade = p.encrypt_message(
            device(case["sender"]),
            TENANT,
            CONVERSATION,
            made.epoch,
            unb64(case["key"]),
            made.seq,
            case["plaintext"],
            nonce=made.nonce,
        )
        assert remade == made
        fields = (made.epoch, made.sender, made.seq, made.nonce, made.ct)
        assert p.message_text(TENANT, CONVERSATION, *fields).decode() == case["text"]


def test_accepted_messages_read_in_order_across_epochs():
    state = holder(MESSAGES["receiver"])
    for case in MESSAGES["accepted"]:
        assert state.receive(p.Envelope.from_json(case["envelope"])) == case["plaintext"]


@pytest.mark.parametrize("case", MESSAGES["refused"], ids=names(MESSAGES["refused"]))
def test_refused_message_names_the_failed_check(case):
    state = reader()
    assert refusal(lambda: state.receive(p.Envelope.from_json(case["envelope"]))) == case["code"]


def test_refused_messages_do_not_move_any_senders_counter():
    state = reader()
    for case in MESSAGES["refused"]:
        refusal(lambda case=case: state.receive(p.Envelope.from_json(case["envelope"])))
    for case in MESSAGES["then_accepted"]:
        assert state.receive(p.Envelope.from_json(case["envelope"])) == case["plaintext"]


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


def test_customer_and_agent_read_each_other():
    customer, agent, records, keys = conversation()
    at_customer = joined(customer, customer, records, keys)
    at_agent = joined(agent, customer, records, keys)
    question = p.encrypt_message(
        customer, TENANT, CONVERSATION, 0, keys[0], at_customer.next_seq(), text("Hello?")
    )
    answer = p.encrypt_message(
        agent, TENANT, CONVERSATION, 1, keys[1], at_agent.next_seq(), text("Hi, how can I help?")
    )
    for state in (at_customer, at_agent):
        assert state.receive(question) == text("Hello?")
        assert state.receive(answer) == text("Hi, how can I help?")
    assert at_customer.next_seq() == 2
    assert at_agent.next_seq() == 2


def test_message_moved_to_another_conversation_is_refused():
    customer, agent, records, keys = conversation()
    elsewhere = p.encrypt_message(agent, TENANT, OTHER_CONVERSATION, 1, keys[1], 1, text("Hi"))
    state = joined(customer, customer, records, keys)
    assert refusal(lambda: state.receive(elsewhere)) == "bad_signature"
    assert not p.verify_envelope_signature(TENANT, CONVERSATION, elsewhere, agent.sign_public)
    assert p.verify_envelope_signature(TENANT, OTHER_CONVERSATION, elsewhere, agent.sign_public)


def test_a_withheld_message_leaves_every_later_one_of_its_sender_refused():
    customer, agent, records, keys = conversation()
    state = joined(customer, customer, records, keys)
    sent = [
        p.encrypt_message(agent, TENANT, CONVERSATION, 1, keys[1], seq, text(f"message {seq}"))
        for seq in (1, 2, 3)
    ]
    state.receive(sent[0])
    assert refusal(lambda: state.receive(sent[2])) == "out_of_order"
    assert refusal(lambda: state.receive(sent[2])) == "out_of_order"
    assert state.receive(sent[1]) == text("message 2")
    assert state.receive(sent[2]) == text("message 3")


def test_a_message_signed_but_not_decryptable_does_not_move_the_counter():
    customer, agent, records, keys = conversation()
    state = joined(customer, customer, records, keys)
    wrong_key = p.encrypt_message(agent, TENANT, CONVERSATION, 1, keys[0], 1, text("Hi"))
    assert refusal(lambda: state.receive(wrong_key)) == "undecryptable"
    right = p.encrypt_message(agent, TENANT, CONVERSATION, 1, keys[1], 1, text("Hi"))
    assert state.receive(right) == text("Hi")


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
    envelope = p.encrypt_message(customer, TENANT, CONVERSATION, 0, keys[0], 1, largest)
    assert len(envelope.ct) == 16_640 + 16
    assert state.receive(envelope) == largest
    too_large = {**largest, "question": largest["question"] + "?"}
    with pytest.raises(ValueError, match="would refuse"):
        p.encrypt_message(customer, TENANT, CONVERSATION, 0, keys[0], 2, too_large)


@pytest.mark.parametrize(
    "plaintext",
    [
        {"type": "file", "name": "x.pdf", "sent_at": "2026-11-28T09:00:00Z"},
        {"type": "text", "body": "x" * 8_001, "sent_at": "2026-11-28T09:00:00Z"},
        {"type": "text", "body": "Hi"},
        {"type": "text", "body": float("nan"), "sent_at": "2026-11-28T09:00:00Z"},
        ["text", "Hi"],
    ],
    ids=["unknown type", "body too long", "missing sent_at", "NaN body", "not an object"],
)
def test_senders_refuse_what_receivers_would_refuse(plaintext):
    sender = p.generate_device()
    with pytest.raises(ValueError, match=r"would refuse|Out of range"):
        p.encrypt_message(sender, TENANT, CONVERSATION, 0, p.new_epoch_key(), 1, plaintext)


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
    envelope = p.encrypt_message(agent, TENANT, CONVERSATION, 1, keys[1], 1, text("Hi"))
    for item in (records[1], wrap, envelope, agent.member("agent")):
        travelled = json.loads(json.dumps(item.to_json()))
        assert type(item).from_json(travelled) == item


def test_device_secrets_stay_out_of_repr():
    keys = p.generate_device()
    assert base64.b64encode(keys.sign_seed).decode() not in repr(keys)
    assert repr(keys.sign_seed) not in repr(keys)
    assert repr(keys.box_secret) not in repr(keys)
