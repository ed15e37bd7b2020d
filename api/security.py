"""Passwords (argon2id through argon2-cffi) and access tokens (JWT with an expiry, through PyJWT)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ALGORITHM = "HS256"


class Passwords:
    """Hashes and checks passwords with the cost from the settings."""

    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        # Checked against when the e-mail is unknown, so a wrong e-mail takes as long as a wrong password.
        self._dummy = self._hasher.hash("not a password")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._dummy, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


class Tokens:
    """Signed access tokens naming a user id, valid for ``minutes``."""

    def __init__(self, secret: str, minutes: int) -> None:
        self._secret = secret
        self.minutes = minutes

    def issue(self, user_id: int) -> str:
        now = datetime.now(UTC)
        claims = {"sub": str(user_id), "iat": now, "exp": now + timedelta(minutes=self.minutes)}
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def issue_scoped(self, user_id: int, scope: str, minutes: int) -> str:
        """A short-lived token good only for ``scope`` (e.g. ``drill-report:7``), not for signing in."""
        now = datetime.now(UTC)
        claims = {"sub": str(user_id), "scope": scope, "iat": now, "exp": now + timedelta(minutes=minutes)}
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def scoped_user_id(self, token: str, scope: str) -> int | None:
        """The user id of a valid, unexpired token issued for exactly ``scope``; ``None`` otherwise."""
        try:
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM],
                                options={"require": ["exp", "sub", "scope"]})
            return int(claims["sub"]) if claims["scope"] == scope else None
        except (jwt.InvalidTokenError, ValueError, TypeError):
            return None

    def user_id(self, token: str) -> int | None:
        """The user id of a valid, unexpired token; ``None`` otherwise."""
        try:
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
            # A scoped token (a report link) opens that one thing only, never the API.
            return None if "scope" in claims else int(claims["sub"])
        except (jwt.InvalidTokenError, ValueError, TypeError):
            return None
