"""Passwords (argon2id) and access tokens (JWT with expiry)."""

from __future__ import annotations

from api.security import Passwords, Tokens


def test_password_hash_and_verify() -> None:
    passwords = Passwords(time_cost=1, memory_kib=64)
    stored = passwords.hash("correct horse")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert passwords.verify(stored, "correct horse")
    assert not passwords.verify(stored, "wrong horse")
    assert not passwords.verify(None, "not a password")  # unknown account, even with the dummy's password
    assert not passwords.verify("garbage", "correct horse")


def test_tokens_expire_and_resist_tampering() -> None:
    tokens = Tokens("k" * 40, minutes=5)
    token = tokens.issue(7)
    assert tokens.user_id(token) == 7
    assert Tokens("x" * 40, minutes=5).user_id(token) is None
    assert tokens.user_id(token[:-2] + "xx") is None
    assert Tokens("k" * 40, minutes=-1).user_id(Tokens("k" * 40, minutes=-1).issue(7)) is None
