"""Functions that change state and tell the connected clients: write first, broadcast on commit.

One module per concern, in the manner of Zulip's zerver/actions/:

- `events`: numbering and storing a conversation's events (the log clients sync from).
- `devices`: registering browsers' public keys.
- `membership`: who takes part in a conversation, through which devices.
- `invitations`: asking a colleague into a chat (conference, warm transfer), and leaving it.
- `lifecycle`: starting and closing conversations (one close path).
- `messages`: encrypted messages, epoch records, history shares, typing.
- `offers`: offering chats to agents, accepting, declining, expiring.
- `presence`: agents' presence.
- `satisfaction`: the customer's rating of a closed conversation.
- `trust`: tenants' organisation keys, and the certificates and revocations of staff devices.

Consumers and views only parse, authorise and call these (../shared/STYLE.md). Every
conversation event is numbered and stored before anyone hears of it, so a client that missed a
broadcast fetches it by number (docs/PROTOCOL.md, "Delivery"). Which state may follow which is
chat/states.py's table; what clients receive is chat/payloads.py's.
"""
