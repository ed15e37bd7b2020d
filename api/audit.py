"""The audit log: every read of personal data and every change, written in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.models import AuditEntry, User


def record(
    session: Session,
    user: User | None,
    action: str,
    entity: str,
    entity_id: int | None = None,
    actor: str | None = None,
    **detail: Any,
) -> None:
    """Add an entry; committed (or rolled back) together with whatever the request does."""
    session.add(
        AuditEntry(
            user_id=None if user is None else user.id,
            actor=actor or (user.email if user is not None else "system"),
            action=action,
            entity=entity,
            entity_id=entity_id,
            detail=detail,
        )
    )
