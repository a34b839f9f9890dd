"""Who is asking: bearer tokens of the configured [[hub.users]], compared in constant time.

A token is never logged, never echoed and never compared character by character: both
sides are hashed first (equal lengths, so `hmac.compare_digest` leaks not even the
length) and every user's token is compared, a match or not, so the time an answer takes
does not tell which user, or how many, came close.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from wawp_tui.config import HubUser

OPERATOR = "operator"
VIEWER = "viewer"
#: Tokens shorter than this are refused at start: a hub on a network is guessed at.
MIN_TOKEN = 16
#: The caller on a hub with no users configured (loopback only, reads only).
LOCAL = "local"


@dataclass(frozen=True)
class Caller:
    """A user the hub recognised."""

    name: str
    role: str

    @property
    def can_act(self) -> bool:
        return self.role == OPERATOR


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class Users:
    """The configured users and their tokens (only users whose token variable is set)."""

    def __init__(self, users: Iterable[HubUser]) -> None:
        users = list(users)
        #: Users are configured at all (even if no token is set): the hub authenticates.
        self.configured = bool(users)
        self._tokens = [(_digest(u.token.reveal()), Caller(u.name, u.role)) for u in users if u.token]

    def problems(self, users: Iterable[HubUser]) -> list[str]:
        """Why some users cannot log in (a token variable unset, or a token too short to
        trust): each a line for the operator who starts the hub."""
        found = []
        for user in users:
            if not user.token:
                found.append(f"user {user.name}: {user.token_env} is not set; {user.name} cannot log in")
            elif len(user.token.reveal()) < MIN_TOKEN:
                found.append(f"user {user.name}: the token in {user.token_env} is shorter than "
                             f"{MIN_TOKEN} characters; use a long random one (e.g. `openssl rand -hex 32`)")
        return found

    def who(self, authorization: str | None) -> Caller | None:
        """The caller an `Authorization: Bearer <token>` header names, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        given = _digest(token.strip())
        found: Caller | None = None
        for digest, caller in self._tokens:
            if hmac.compare_digest(digest, given) and found is None:
                found = caller
        return found
