"""The refusal every action, view and consumer speaks: a stable code and a sentence for people."""


class ChatError(Exception):
    """A refused request, with the stable code and sentence the client receives.

    The codes are listed in sealdesk_client/frames.py and docs/PROTOCOL.md.
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
