"""Test data the test files share: a tenant's staff (the personas), devices, conversations.

The fixtures in conftest.py build Acme's staff and Globex's outsiders from these; a test file
imports from here, never from another test file. The benchmarks seed their own tenant
(bench/seed_tenant.py: hundreds of agents, one password hash, a random password).
"""

import base64
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client

from agents.models import Agent, Device, Team, Tenant
from chat.actions import devices, lifecycle, offers, presence, trust
from chat.builtin_router import BuiltinRouter
from chat.models import Conversation, Offer
from sealdesk_client import protocol

PASSWORD = "correct horse battery staple 42"


@dataclass
class Staff:
    tenant: Tenant
    team: Team
    admin: Agent  # the tenant admin
    supervisor: Agent
    agent: Agent


def make_agent(
    tenant: Tenant, username: str, role: str = Agent.Role.AGENT, teams: tuple[Team, ...] = ()
) -> Agent:
    user = get_user_model().objects.create_user(
        username=username,
        password=PASSWORD,
        email=f"{username}@example.com",
        is_staff=role == Agent.Role.TENANT_ADMIN,
    )
    agent = Agent.objects.create(
        user=user, tenant=tenant, display_name=username.capitalize(), role=role
    )
    agent.teams.set(teams)
    return agent


def make_staff(name: str, slug: str, people: tuple[str, str, str]) -> Staff:
    tenant = Tenant.objects.create(
        name=name, slug=slug, allowed_origins=f"https://www.{slug}.example"
    )
    team = Team.objects.create(tenant=tenant, name="Support")
    admin, supervisor, agent = people
    return Staff(
        tenant=tenant,
        team=team,
        admin=make_agent(tenant, admin, Agent.Role.TENANT_ADMIN, (team,)),
        supervisor=make_agent(tenant, supervisor, Agent.Role.SUPERVISOR, (team,)),
        agent=make_agent(tenant, agent, Agent.Role.AGENT, (team,)),
    )


def device_for(agent: Agent) -> Device:
    return Device.objects.create(
        id=secrets.token_hex(16),
        tenant=agent.tenant,
        kind=Device.Kind.AGENT,
        agent=agent,
        sign_public="A" * 43 + "=",
        box_public="B" * 43 + "=",
    )


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def start_with_keys(
    staff: Staff, team: Team | None = None, language: str = ""
) -> tuple[protocol.DeviceKeys, Conversation, str]:
    """Start a conversation as a customer with fresh keys; return the keys, it and its token."""
    keys = protocol.generate_device()
    conversation, token = lifecycle.do_start_conversation(
        staff.tenant,
        team or staff.team,
        b64(keys.sign_public),
        b64(keys.box_public),
        f"https://www.{staff.tenant.slug}.example",
        language=language,
    )
    return keys, conversation, token


def start(staff: Staff, team: Team | None = None, language: str = "") -> Conversation:
    return start_with_keys(staff, team, language)[1]


def pending(conversation: Conversation) -> Offer | None:
    return Offer.objects.filter(conversation=conversation, state=Offer.State.PENDING).first()


def available(*agents: Agent) -> None:
    """Make each agent available, with a device of its own if it has none."""
    for agent in agents:
        if not agent.devices.exists():
            device_for(agent)
        presence.do_set_presence(agent, Agent.Presence.AVAILABLE)


def accept(staff: Staff, conversation: Conversation) -> Device:
    """Let the conversation's offer go to Alice and have her accept it; return her device."""
    BuiltinRouter(staff.tenant).dispatch(staff.team)
    offer = pending(conversation)
    assert offer is not None
    device = staff.agent.devices.get()
    offers.do_accept_offer(staff.agent, device, offer.pk)
    return device


# The organisation key Acme's and Globex's admins make in these tests (a browser makes it from
# random bytes; fixed here so that failures repeat).
ORG_KEY = protocol.OrgKey(bytes(range(32)))


def with_org_key(staff: Staff, org: protocol.OrgKey = ORG_KEY) -> protocol.OrgKey:
    """Record ORG as the tenant's organisation key, as its admin's browser does."""
    trust.do_set_org_key(staff.admin, b64(org.public_key))
    return org


def approve(
    staff: Staff,
    agent: Agent,
    device: Device,
    org: protocol.OrgKey = ORG_KEY,
) -> Device:
    """Have the tenant admin approve DEVICE of AGENT, signed with ORG as the organisation page
    signs it (tests/test_organisation_browser.py clicks through that page)."""
    member = protocol.Member(
        device.id,
        trust.cert_role(agent),
        base64.b64decode(device.sign_public),
        base64.b64decode(device.box_public),
    )
    now = int(time.time())
    cert = protocol.certify(
        org,
        tenant=staff.tenant.widget_id,
        person=agent.pk,
        name=agent.display_name,
        role=trust.cert_role(agent),
        device=member,
        issued=now,
        expires=now + 86_400 * 365,
    )
    return trust.do_certify_device(staff.admin, device.pk, cert.to_json())


def certified_device(
    staff: Staff,
    agent: Agent,
    org: protocol.OrgKey = ORG_KEY,
    keys: protocol.DeviceKeys | None = None,
) -> tuple[protocol.DeviceKeys, Device]:
    """Register a browser of AGENT (fresh keys, or KEYS) and have the tenant admin approve it;
    return its keys and its device."""
    keys = keys or protocol.generate_device()
    device = devices.do_register_agent_device(
        agent, b64(keys.sign_public), b64(keys.box_public), "test browser"
    )
    return keys, approve(staff, agent, device, org)


def sign_in_with_second_factor(client: Client, user: Any) -> Client:
    """Sign USER in on CLIENT as after both steps, the password and an authenticator app's code
    (agents/two_factor.py): platform admins always need the second, agents when their tenant
    asks for it."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(
        user=user, name="authenticator", defaults={"confirmed": True}
    )
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
