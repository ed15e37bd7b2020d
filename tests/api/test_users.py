"""Accounts: sign-up, sign-in, profiles, roles, and who may read or change which account."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.factories import PASSWORD, login, make_user, user


def test_signup_login_and_own_profile(client: TestClient) -> None:
    """A volunteer signs up, signs in with the e-mail in any case, and reads and edits their profile."""
    response = client.post("/users/signup", json={"email": "Ann@Example.org", "password": PASSWORD, "name": "Ann"})
    assert response.status_code == 202, response.text
    headers = login(client, "ANN@example.org")
    me = client.get("/users/me", headers=headers).json()
    assert me["name"] == "Ann" and me["role"] == "volunteer" and me["email"] == "ann@example.org"
    assert me["approval"] == "pending"  # drives only once a coordinator approves
    changed = client.patch(f"/users/{me['id']}", headers=headers, json={"version": me["version"], "phone": "+358 1"})
    assert changed.status_code == 200 and changed.json()["phone"] == "+358 1"


def test_signup_does_not_tell_whether_an_email_has_an_account(client: TestClient) -> None:
    """Fault 6 of issue 8: sign-up answered "e-mail ... is already registered". Now a taken e-mail gets the same
    answer as a new one, and the existing account keeps its password."""
    body = {"email": "bob@example.org", "password": PASSWORD}
    first = client.post("/users/signup", json=body)
    again = client.post("/users/signup", json={**body, "password": "another long passphrase"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() and "registered" not in again.text
    login(client, "bob@example.org")  # the first password still signs in


def test_wrong_password_and_bad_token_are_401(app: FastAPI, client: TestClient) -> None:
    make_user(app, "cat@example.org")
    wrong = client.post("/login/access-token", data={"username": "cat@example.org", "password": "nope-nope"})
    unknown = client.post("/login/access-token", data={"username": "who@example.org", "password": PASSWORD})
    assert wrong.status_code == 401 and unknown.status_code == 401
    assert client.get("/users/me").status_code == 401
    assert client.get("/users/me", headers={"Authorization": "Bearer not-a-token"}).status_code == 401


def test_expired_token_is_401(app: FastAPI, client: TestClient) -> None:
    """A token past its expiry no longer signs anyone in."""
    user_id = make_user(app, "old@example.org")
    tokens = app.state.services.tokens
    tokens.minutes = -1
    token = tokens.issue(user_id)
    assert client.get("/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_coordinator_creates_accounts_and_volunteers_cannot(app: FastAPI, client: TestClient) -> None:
    coordinator = user(app, client, "coord@example.org", "coordinator")
    volunteer = user(app, client, "vol@example.org")
    body = {"email": "reg@example.org", "password": PASSWORD, "role": "registrar"}
    assert client.post("/users", headers=volunteer, json=body).status_code == 403
    created = client.post("/users", headers=coordinator, json=body)
    assert created.status_code == 201 and created.json()["role"] == "registrar"
    assert login(client, "reg@example.org")


def test_volunteer_sees_only_own_account(app: FastAPI, client: TestClient) -> None:
    """Another account is 404 to a volunteer (not even its existence leaks); the account list is 403."""
    volunteer = user(app, client, "v1@example.org")
    other = make_user(app, "v2@example.org")
    assert client.get(f"/users/{other}", headers=volunteer).status_code == 404
    assert client.patch(f"/users/{other}", headers=volunteer, json={"version": 1, "name": "x"}).status_code == 404
    assert client.get("/users", headers=volunteer).status_code == 403


def test_only_coordinators_change_roles_and_deactivate(app: FastAPI, client: TestClient) -> None:
    coordinator = user(app, client, "boss@example.org", "coordinator")
    volunteer = user(app, client, "v@example.org")
    me = client.get("/users/me", headers=volunteer).json()
    promote = client.patch(f"/users/{me['id']}", headers=volunteer,
                           json={"version": me["version"], "role": "coordinator"})
    assert promote.status_code == 403
    off = client.patch(f"/users/{me['id']}", headers=coordinator, json={"version": me["version"], "is_active": False})
    assert off.status_code == 200
    assert client.get("/users/me", headers=volunteer).status_code == 401
    refused = client.post("/login/access-token", data={"username": "v@example.org", "password": PASSWORD})
    assert refused.status_code == 401
