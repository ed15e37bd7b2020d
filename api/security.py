"""Passwords (argon2id through argon2-cffi, strength by zxcvbn) and access tokens (JWT with an expiry and the
account's token version, through PyJWT)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

ALGORITHM = "HS256"
#: zxcvbn's score (0-4) a password must reach: 2 is "somewhat guessable" (over 10^6 guesses), which refuses the
#: common-password lists, keyboard walks, dates, repeats and dictionary words with obvious substitutions.
MIN_PASSWORD_SCORE = 2
#: zxcvbn refuses longer input; the first 72 characters decide (a longer password is at least as strong).
ZXCVBN_MAX = 72
#: The largest database id (a 32-bit integer on every backend): a token naming a larger one names nobody.
MAX_ID = 2**31 - 1


def password_problem(password: str, user_inputs: tuple[str, ...] = ()) -> str | None:
    """Why a password is refused (blank, common, or easy to guess from the account's own e-mail or name);
    ``None`` when it is acceptable."""
    if not password.strip():
        return "must not be blank"
    result = zxcvbn(password[:ZXCVBN_MAX], user_inputs=[u for u in user_inputs if u])
    if result["score"] >= MIN_PASSWORD_SCORE:
        return None
    warning = result["feedback"].get("warning") or "it is too easy to guess"
    return f"is too easy to guess ({warning.rstrip('.')}): use a few unrelated words or a longer phrase"


@dataclass(frozen=True)
class TokenClaims:
    """Who a valid token names, and the token version of the account it was issued at."""

    user_id: int
    token_version: int


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

    def issue(self, user_id: int, token_version: int = 0) -> str:
        now = datetime.now(UTC)
        claims = {"sub": str(user_id), "tv": token_version, "iat": now, "exp": now + timedelta(minutes=self.minutes)}
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

    def claims(self, token: str) -> TokenClaims | None:
        """Who a valid, unexpired token names; ``None`` for anything else, including a well-signed token whose
        ``sub`` or ``tv`` is no id a database could hold."""
        try:
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM],
                                options={"require": ["exp", "sub", "tv"]})
            user_id, version = int(claims["sub"]), claims["tv"]
        except (jwt.InvalidTokenError, ValueError, TypeError, OverflowError):
            return None
        if "scope" in claims:  # a scoped token (a report link) opens that one thing only, never the API
            return None
        if not 1 <= user_id <= MAX_ID or type(version) is not int or not 0 <= version <= MAX_ID:
            return None
        return TokenClaims(user_id, version)

    def user_id(self, token: str) -> int | None:
        """The user id of a valid, unexpired token; ``None`` otherwise."""
        found = self.claims(token)
        return None if found is None else found.user_id
