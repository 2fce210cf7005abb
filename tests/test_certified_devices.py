"""Organisation keys and certified staff devices, as the server stores them: Ada (Acme's tenant
admin) makes the key, approves Alice's device and revokes it; Sam (supervisor) and Alice may not;
Oscar (Globex's admin) can touch none of it. The keys and signatures are made here with the
Python client's protocol module, as the admin's browser makes them (static/agents/organisation.js,
driven in Chromium by tests/test_organisation_browser.py).
"""

import io
import time
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from agents.models import Device, OrgKey
from chat.actions import offers, trust
from chat.builtin_router import BuiltinRouter
from chat.errors import ChatError
from chat.models import Event
from sealdesk_client import protocol
from tests.factories import PASSWORD, Staff, accept, available, b64, pending, start

pytestmark = pytest.mark.django_db

ORG = protocol.OrgKey(bytes(range(32)))
NEXT = protocol.OrgKey(bytes(range(1, 33)))


def register(agent_client: Client, keys: protocol.DeviceKeys) -> dict[str, Any]:
    body = {"sign_public": b64(keys.sign_public), "box_public": b64(keys.box_public)}
    response = agent_client.post(reverse("register_device"), body, content_type="application/json")
    assert response.status_code == 200, response.content
    device: dict[str, Any] = response.json()["device"]
    return device


def logged_in(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def certificate(
    staff: Staff, keys: protocol.DeviceKeys, org: protocol.OrgKey = ORG, **changes: Any
) -> protocol.Certificate:
    now = int(time.time())
    fields: dict[str, Any] = {
        "tenant": staff.tenant.widget_id,
        "person": staff.agent.pk,
        "name": staff.agent.display_name,
        "role": "agent",
        "device": keys,
        "issued": now,
        "expires": now + 86_400 * 365,
        **changes,
    }
    return protocol.certify(org, **fields)


def post(client: Client, name: str, body: dict[str, Any], **kwargs: str) -> Any:
    return client.post(reverse(name, kwargs=kwargs), body, content_type="application/json")


def test_ada_makes_the_key_approves_alices_device_and_alice_then_takes_chats(acme: Staff) -> None:
    ada, alice = logged_in("ada"), logged_in("alice")
    keys = protocol.generate_device()
    before = register(alice, keys)
    assert before["cert"] is None
    made = post(ada, "organisation_key", {"public_key": b64(ORG.public_key)})
    assert made.status_code == 200
    assert made.json()["org"]["key"] == b64(ORG.public_key)
    assert made.json()["org"]["fingerprint"] == protocol.fingerprint(ORG.id)

    # Pending: the router offers Alice nothing, available as she is.
    available(acme.agent)
    conversation = start(acme)
    BuiltinRouter(acme.tenant).dispatch(acme.team)
    assert pending(conversation) is None

    cert = certificate(acme, keys)
    approved = post(ada, "certify_device", {"cert": cert.to_json()}, device_id=keys.device_id)
    assert approved.status_code == 200, approved.content
    assert approved.json()["device"]["cert"] == cert.to_json()
    assert register(alice, keys)["cert"] == cert.to_json()
    BuiltinRouter(acme.tenant).dispatch(acme.team)
    offer = pending(conversation)
    assert offer is not None and offer.agent == acme.agent

    state = ada.get(reverse("organisation_state")).json()
    assert state["org"]["rotations"] == [] and state["org"]["revocations"] == []
    listed = {d["id"]: d for d in state["devices"]}
    assert listed[keys.device_id]["agent"] == {
        "id": acme.agent.pk,
        "name": "Alice",
        "role": "Agent",
        "cert_role": "agent",
    }


def test_an_uncertified_device_cannot_accept_an_offer(acme: Staff) -> None:
    keys = protocol.generate_device()
    register(logged_in("alice"), keys)
    device = Device.objects.get(pk=keys.device_id)
    available(acme.agent)
    conversation = start(acme)
    BuiltinRouter(acme.tenant).dispatch(acme.team)
    offer = pending(conversation)
    assert offer is not None  # no organisation key yet: trusted on first use
    OrgKey.objects.create(tenant=acme.tenant, public_key=b64(ORG.public_key))
    with pytest.raises(ChatError) as refused:
        offers.do_accept_offer(acme.agent, device, offer.pk)
    assert refused.value.code == "device_not_certified"


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"name": "Mallory"}, "does not name this device"),
        ({"role": "supervisor"}, "does not name this device"),
        ({"person": 999}, "does not name this device"),
        ({"tenant": "wid_other"}, "does not name this device"),
        ({"org": NEXT}, "does not name this device"),
        ({"expires": int(time.time()) + 86_400 * 500}, "times are not valid"),
        ({"issued": int(time.time()) - 86_400}, "times are not valid"),
        ({"sig": bytes(64)}, "does not verify"),
    ],
    ids=["name", "role", "person", "tenant", "other key", "too long", "stale", "signature"],
)
def test_a_certificate_that_does_not_fit_is_refused(
    acme: Staff, change: dict[str, Any], detail: str
) -> None:
    ada = logged_in("ada")
    keys = protocol.generate_device()
    register(logged_in("alice"), keys)
    post(ada, "organisation_key", {"public_key": b64(ORG.public_key)})
    sig = change.pop("sig", None)
    org = change.pop("org", ORG)
    cert = certificate(acme, keys, org, **change)
    body = cert.to_json() if sig is None else {**cert.to_json(), "sig": b64(sig)}
    refused = post(ada, "certify_device", {"cert": body}, device_id=keys.device_id)
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_certificate"
    assert detail in refused.json()["detail"]
    assert Device.objects.get(pk=keys.device_id).cert is None


def test_a_rotation_needs_the_current_keys_signature(acme: Staff) -> None:
    ada = logged_in("ada")
    post(ada, "organisation_key", {"public_key": b64(ORG.public_key)})
    again = post(ada, "organisation_key", {"public_key": b64(NEXT.public_key)})
    assert again.json()["code"] == "invalid_rotation"
    forged = protocol.rotate_org_key(NEXT, acme.tenant.widget_id, NEXT.public_key, 1)
    body = {"public_key": b64(NEXT.public_key), "rotation": forged.to_json()}
    assert post(ada, "organisation_key", body).json()["code"] == "invalid_rotation"
    rotation = protocol.rotate_org_key(ORG, acme.tenant.widget_id, NEXT.public_key, 1)
    rotated = post(ada, "organisation_key", {**body, "rotation": rotation.to_json()})
    assert rotated.status_code == 200
    assert rotated.json()["org"]["key"] == b64(NEXT.public_key)
    assert rotated.json()["org"]["rotations"] == [rotation.to_json()]
    small = {"public_key": b64(bytes([1]) + bytes(31))}
    assert post(ada, "organisation_key", small).json()["code"] == "invalid_key"


def test_revoking_alices_device_refuses_it_and_tells_her_open_conversations(acme: Staff) -> None:
    ada, alice = logged_in("ada"), logged_in("alice")
    keys = protocol.generate_device()
    register(alice, keys)
    post(ada, "organisation_key", {"public_key": b64(ORG.public_key)})
    post(
        ada, "certify_device", {"cert": certificate(acme, keys).to_json()}, device_id=keys.device_id
    )
    available(acme.agent)
    conversation = start(acme)
    accept(acme, conversation)

    forged = protocol.revoke_device(NEXT, acme.tenant.widget_id, keys.device_id, 1)
    refused = post(ada, "revoke_device", {"revocation": forged.to_json()}, device_id=keys.device_id)
    assert refused.json()["code"] == "invalid_revocation"
    revocation = protocol.revoke_device(
        ORG, acme.tenant.widget_id, keys.device_id, int(time.time())
    )
    done = post(
        ada, "revoke_device", {"revocation": revocation.to_json()}, device_id=keys.device_id
    )
    assert done.status_code == 200
    assert done.json()["device"]["revoked_at"] is not None
    left = Event.objects.get(conversation=conversation, kind=Event.Kind.LEFT)
    assert left.body == {
        "device": keys.device_id,
        "reason": "revoked",
        "revocation": revocation.to_json(),
    }
    org = trust.org_payload(acme.tenant)
    assert org is not None and org["revocations"] == [revocation.to_json()]
    # The revoked device is refused from now on: its keys cannot be registered again.
    again = alice.post(
        reverse("register_device"),
        {"sign_public": b64(keys.sign_public), "box_public": b64(keys.box_public)},
        content_type="application/json",
    )
    assert again.json()["code"] == "device_exists"


def test_only_a_tenant_admin_of_the_tenant_reaches_the_organisation_page(
    acme: Staff, globex: Staff
) -> None:
    keys = protocol.generate_device()
    register(logged_in("alice"), keys)
    for username in ("sam", "alice"):
        client = logged_in(username)
        assert client.get(reverse("organisation")).status_code == 403
        assert client.get(reverse("organisation_state")).status_code == 403
        body = {"public_key": b64(ORG.public_key)}
        assert post(client, "organisation_key", body).status_code == 403
    oscar = logged_in("oscar")
    assert oscar.get(reverse("organisation")).status_code == 200
    state = oscar.get(reverse("organisation_state")).json()
    assert state["tenant"]["id"] == globex.tenant.widget_id
    assert state["devices"] == []
    post(oscar, "organisation_key", {"public_key": b64(NEXT.public_key)})
    cert = certificate(acme, keys, NEXT)
    refused = post(oscar, "certify_device", {"cert": cert.to_json()}, device_id=keys.device_id)
    assert refused.status_code == 404
    assert Device.objects.get(pk=keys.device_id).cert is None
    assert OrgKey.objects.filter(tenant=acme.tenant).count() == 0
    page = logged_in("ada").get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("organisation")}"' in page
    assert (
        f'href="{reverse("organisation")}"'
        not in logged_in("alice").get(reverse("dashboard")).content.decode()
    )


def test_an_operator_resets_a_lost_key_and_the_devices_wait_again(
    acme: Staff, globex: Staff
) -> None:
    ada = logged_in("ada")
    keys = protocol.generate_device()
    register(logged_in("alice"), keys)
    post(ada, "organisation_key", {"public_key": b64(ORG.public_key)})
    post(
        ada, "certify_device", {"cert": certificate(acme, keys).to_json()}, device_id=keys.device_id
    )
    OrgKey.objects.create(tenant=globex.tenant, public_key=b64(NEXT.public_key))
    out = io.StringIO()
    call_command("reset_org_key", "acme", stdout=out)
    assert "Would forget 1 organisation key(s) of Acme" in out.getvalue()
    assert OrgKey.objects.filter(tenant=acme.tenant).exists()
    call_command("reset_org_key", "acme", "--yes", stdout=out)
    assert not OrgKey.objects.filter(tenant=acme.tenant).exists()
    assert Device.objects.get(pk=keys.device_id).cert is None
    assert OrgKey.objects.filter(tenant=globex.tenant).count() == 1  # the outsider keeps its key
    made = post(ada, "organisation_key", {"public_key": b64(NEXT.public_key)})
    assert made.json()["code"] == "invalid_key"  # Globex uses that key: keys are never shared
    fresh = protocol.OrgKey(bytes(range(2, 34)))
    assert post(ada, "organisation_key", {"public_key": b64(fresh.public_key)}).status_code == 200
    with pytest.raises(CommandError, match="no tenant"):
        call_command("reset_org_key", "initech", "--yes")


def test_a_browser_asks_for_the_key_and_an_admin_browser_gives_it_sealed(
    acme: Staff, globex: Staff
) -> None:
    ada, sam, oscar = logged_in("ada"), logged_in("sam"), logged_in("oscar")
    asking = protocol.generate_device()
    keys = {"sign_public": b64(asking.sign_public), "box_public": b64(asking.box_public)}
    assert post(ada, "request_org_key", keys).json()["code"] == "no_org_key"
    post(ada, "organisation_key", {"public_key": b64(ORG.public_key)})
    assert post(sam, "request_org_key", keys).status_code == 403
    small = {**keys, "box_public": b64(bytes(32))}
    assert post(ada, "request_org_key", small).json()["code"] == "invalid_key"
    asked = post(ada, "request_org_key", keys).json()["share"]
    assert (asked["mine"], asked["shared"], asked["share"]) == (True, False, None)

    sealed = {"holder_sign_public": "a", "holder_box_public": "b", "nonce": "c", "ct": "d"}
    assert (
        post(ada, "give_org_key", {"share": {**sealed, "x": "y"}}, share_id=asked["id"]).json()[
            "code"
        ]
        == "invalid_share"
    )
    # Another tenant's admin finds no such request.
    refused = post(oscar, "give_org_key", {"share": sealed}, share_id=asked["id"])
    assert refused.status_code == 404
    given = post(ada, "give_org_key", {"share": sealed}, share_id=asked["id"])
    assert given.json()["share"]["shared"] is True
    state = ada.get(reverse("organisation_state")).json()
    assert [s["share"] for s in state["shares"]] == [sealed]
    assert oscar.get(reverse("organisation_state")).json()["shares"] == []
