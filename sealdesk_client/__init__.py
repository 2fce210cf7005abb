"""Sealdesk's end-to-end encryption (docs/PROTOCOL.md) for Python clients and the server."""
