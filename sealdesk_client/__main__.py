"""Chat from a terminal, as a customer or as an agent: lines typed are sent, messages printed.

    python -m sealdesk_client customer --url http://127.0.0.1:8000 --widget wid_... \\
        --origin http://127.0.0.1:8001 --name Carla --question "Where is my parcel?"
    SEALDESK_PASSWORD=... python -m sealdesk_client agent --url http://127.0.0.1:8000 \\
        --username demo-alice

Messages are encrypted and verified here, as in the browser (docs/PROTOCOL.md). The agent
accepts the first chat offered to it.
"""

import argparse
import asyncio
import getpass
import os
import sys
from typing import Any

from sealdesk_client.client import AgentClient, ConversationClient, Customer, ServerError, Shown


def describe(item: Shown, me: str) -> str:
    """Return one shown line of a conversation as the terminal prints it."""
    if item.kind == "warning":
        return f"! refused: a message could not be verified ({item.content['code']})"
    if item.kind == "notice":
        if "name" in item.content:
            return f"* {item.content['name']} joined"
        if "by" in item.content:
            return f"* closed by the {item.content['by']}"
        return f"* {item.content}"
    who = "you" if item.sender == me else "them"
    content = item.content
    if content["type"] == "prechat":
        return f"{who}: [{content['name']} <{content['email']}>] {content['question']}"
    return f"{who}: {content['body']}"


async def print_new(view: ConversationClient, printed: int) -> int:
    """Print what the view shows beyond the first PRINTED lines; return how many it shows."""
    for item in view.shown[printed:]:
        print(describe(item, view.keys.device_id), flush=True)
    return len(view.shown)


async def chat(view: ConversationClient, send: Any) -> None:
    """Send each line read from standard input; print messages as they come; stop at EOF."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    loop.add_reader(sys.stdin.fileno(), lambda: lines.put_nowait(sys.stdin.readline() or None))
    printed = await print_new(view, 0)
    try:
        while not view.closed:
            line_task = asyncio.ensure_future(lines.get())
            change_task = asyncio.ensure_future(view.changed.wait())
            done, pending = await asyncio.wait(
                {line_task, change_task}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            view.changed.clear()
            if line_task in done:
                line = line_task.result()
                if line is None:
                    return
                if line.strip():
                    try:
                        await send(line.strip())
                    except ServerError as e:
                        print(f"! not sent: {e.detail}", flush=True)
            printed = await print_new(view, printed)
        await print_new(view, printed)
    finally:
        loop.remove_reader(sys.stdin.fileno())


async def as_customer(args: argparse.Namespace) -> None:
    customer = Customer(args.url, args.widget, args.origin)
    try:
        team = args.team or (await customer.config())["teams"][0]["id"]
        await customer.start(
            team, {"name": args.name, "email": args.email, "question": args.question}
        )
        print(f"Your chat key: {customer.keys.device_id}", flush=True)
        print(f"You are number {customer.queue_position} in the queue.", flush=True)
        await chat(customer, customer.send_text)
    finally:
        await customer.close()


async def as_agent(args: argparse.Namespace) -> None:
    password = os.environ.get("SEALDESK_PASSWORD") or getpass.getpass("Password: ")
    agent = AgentClient(args.url, args.username, password)
    try:
        await agent.login()
        await agent.connect()
        await agent.set_presence("available")
        print("Available; waiting for a chat…", flush=True)
        view = await agent.accept_next_offer(timeout=args.wait)
        customer = view.members[view.customer_device or ""]
        print(f"Customer key: {customer.device_id}", flush=True)
        await chat(view, view.send_text)
    finally:
        await agent.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sealdesk_client", description=__doc__)
    roles = parser.add_subparsers(dest="role", required=True)
    customer = roles.add_parser("customer", help="start a conversation through a widget")
    customer.add_argument("--url", required=True, help="Sealdesk's URL")
    customer.add_argument("--widget", required=True, help="the tenant's widget id")
    customer.add_argument("--origin", required=True, help="an origin the tenant allows")
    customer.add_argument("--team", type=int, help="team id (default: the tenant's first)")
    customer.add_argument("--name", required=True)
    customer.add_argument("--email", default="")
    customer.add_argument("--question", required=True)
    agent = roles.add_parser("agent", help="log in as an agent and take the next chat")
    agent.add_argument("--url", required=True, help="Sealdesk's URL")
    agent.add_argument("--username", required=True, help="password: $SEALDESK_PASSWORD or asked")
    agent.add_argument("--wait", type=float, default=600, help="seconds to wait for an offer")
    args = parser.parse_args()
    try:
        asyncio.run(as_customer(args) if args.role == "customer" else as_agent(args))
    except ServerError as e:
        sys.exit(f"Sealdesk refused: {e.detail} ({e.code})")
    except TimeoutError:
        sys.exit("No chat was offered in time.")


if __name__ == "__main__":
    main()
