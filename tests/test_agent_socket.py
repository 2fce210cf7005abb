"""The agent's dashboard socket: who may open it, presence fan-out, and errors for bad frames."""

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.test import Client

from agents.models import Agent, Tenant
from chat.consumers import CLOSE_NOT_AN_AGENT, MAX_FRAME_BYTES
from tests.factories import Staff
from tests.sockets import AGENT_ORIGIN, Socket, open_agent_socket

pytestmark = pytest.mark.django_db(transaction=True)


ORIGIN = AGENT_ORIGIN


async def open_socket(user: User | None, origin: bytes = ORIGIN) -> tuple[Socket, bool, Any]:
    return await open_agent_socket(user, origin=origin)


async def test_agent_gets_hello_with_its_presence(acme: Staff) -> None:
    socket, connected, _ = await open_socket(acme.agent.user)
    assert connected
    hello = await socket.receive_frame()
    assert hello["type"] == "hello"
    assert hello["agent"] == {"id": acme.agent.pk, "display_name": "Alice"}
    assert hello["tenant"] == {"id": acme.tenant.widget_id, "name": "Acme"}
    assert hello["offers"] == []
    assert hello["conversations"] == []
    assert hello["presence"] == "offline"
    await socket.disconnect()


async def test_presence_set_reaches_every_socket_of_the_agent_only(
    acme: Staff, globex: Staff
) -> None:
    first, _, _ = await open_socket(acme.agent.user)
    second, _, _ = await open_socket(acme.agent.user)
    colleague, _, _ = await open_socket(acme.supervisor.user)
    outsider, _, _ = await open_socket(globex.agent.user)
    for socket in (first, second, colleague, outsider):
        await socket.receive_frame()  # hello

    await first.send_to(text_data=json.dumps({"type": "presence.set", "presence": "available"}))
    for socket in (first, second):
        frame = await socket.receive_frame()
        assert frame["type"] == "presence"
        assert frame["presence"] == "available"
    assert await colleague.receive_nothing(timeout=0.3)
    assert await outsider.receive_nothing(timeout=0.1)
    agent = await Agent.objects.aget(pk=acme.agent.pk)
    assert agent.presence == "available"
    for socket in (first, second, colleague, outsider):
        await socket.disconnect()


async def test_presence_changed_over_http_reaches_the_socket(acme: Staff) -> None:
    socket, _, _ = await open_socket(acme.agent.user)
    await socket.receive_frame()

    def post_presence() -> int:
        client = Client()
        client.force_login(acme.agent.user)
        return client.post("/dashboard/presence/", {"presence": "away"}).status_code

    assert await database_sync_to_async(post_presence)() == 302
    frame = await socket.receive_frame()
    assert frame["presence"] == "away"
    await socket.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "malformed_frame"),
        ("[1, 2]", "malformed_frame"),
        ('{"presence": "away"}', "malformed_frame"),
        ('{"type": "launch.missiles"}', "unknown_type"),
        ('{"type": "presence.set", "presence": "asleep"}', "invalid_presence"),
        (
            '{"type": "presence.set", "presence": "' + "x" * MAX_FRAME_BYTES + '"}',
            "frame_too_large",
        ),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_survives(
    acme: Staff, frame: str, code: str
) -> None:
    socket, _, _ = await open_socket(acme.agent.user)
    await socket.receive_frame()
    await socket.send_to(text_data=frame)
    error = await socket.receive_frame()
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["detail"]
    # Nothing was stored, and the connection still works.
    assert (await Agent.objects.aget(pk=acme.agent.pk)).presence == "offline"
    await socket.send_to(text_data=json.dumps({"type": "presence.set", "presence": "away"}))
    assert (await socket.receive_frame())["presence"] == "away"
    await socket.disconnect()


async def test_anonymous_and_non_agent_logins_are_refused(root) -> None:
    for user in (None, root):
        _socket, connected, code = await open_socket(user)
        assert not connected
        assert code == CLOSE_NOT_AN_AGENT


async def test_socket_from_a_foreign_origin_is_refused(acme: Staff) -> None:
    _socket, connected, _ = await open_socket(acme.agent.user, origin=b"https://evil.example")
    assert not connected


async def test_a_deactivated_or_deleted_agent_is_cut_off_at_once(acme: Staff) -> None:
    # Both go through the models, as the admin does: each tells the agent's sockets to check
    # the agent again, and they close without waiting for a frame.
    for cut_off in ("deactivated", "deleted"):
        socket, connected, _ = await open_socket(acme.agent.user)
        assert connected
        await socket.receive_frame()
        if cut_off == "deactivated":
            user = await User.objects.aget(pk=acme.agent.user.pk)
            user.is_active = False
            await user.asave()
        else:
            await (await Agent.objects.aget(pk=acme.agent.pk)).adelete()
        assert (await socket.receive_frame())["code"] == "forbidden"
        assert (await socket.receive_output(timeout=1))["code"] == CLOSE_NOT_AN_AGENT
        if cut_off == "deactivated":
            await User.objects.filter(pk=user.pk).aupdate(is_active=True)
            acme.agent.user.is_active = True


async def test_agent_of_a_deactivated_tenant_is_cut_off(acme: Staff) -> None:
    socket, _, _ = await open_socket(acme.agent.user)
    await socket.receive_frame()
    # The socket checked the agent once; the tenant's change tells it to check again, and it
    # closes at once, before the agent sends anything more.
    tenant = await Tenant.objects.aget(pk=acme.tenant.pk)
    tenant.is_active = False
    await tenant.asave()
    error = await socket.receive_frame()
    assert error["code"] == "forbidden"
    assert (await socket.receive_output(timeout=1))["code"] == CLOSE_NOT_AN_AGENT
    assert (await Agent.objects.aget(pk=acme.agent.pk)).presence == "offline"
    _socket2, connected, _ = await open_socket(acme.agent.user)
    assert not connected
