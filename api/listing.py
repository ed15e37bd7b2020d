"""Paged, filtered, sorted lists: one declaration per filter, the total beside every page (``X-Total-Count``).

A list's query parameters are a Pydantic model (``HouseholdFilters``, ...). Each field carries, in its
``Annotated`` metadata, the clause it adds to the query, so a new filter is one line::

    zone: Annotated[str | None, Eq("zone"), Field(max_length=50)] = None

``filtered(query, model, filters)`` applies every clause whose value is given (``None`` means "not filtered"),
and the ``sort`` field (a ``Literal`` of column names, ``-`` for descending; ``id`` breaks ties so pages never
overlap). The page stays a JSON list, as before paging had a total, and the total of the whole filtered list is in
the ``X-Total-Count`` response header, so old clients keep working.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Response
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import ColumnElement, Select, String, cast, func, not_, or_, select
from sqlalchemy.orm import Session

TOTAL_HEADER = "X-Total-Count"


class Clause:
    """A filter's effect on the query, given the model (table), the value asked for and the service's settings."""

    def where(self, model: type[Any], value: Any, settings: Any = None) -> ColumnElement[bool]:
        raise NotImplementedError


@dataclass(frozen=True)
class Eq(Clause):
    """``column = value``."""

    column: str

    def where(self, model: type[Any], value: Any, settings: Any = None) -> ColumnElement[bool]:
        return getattr(model, self.column) == value  # type: ignore[no-any-return]


@dataclass(frozen=True)
class AtMost(Clause):
    """``column <= value`` (priority 1 is the most urgent: ``priority_at_most=2`` gives 1 and 2)."""

    column: str

    def where(self, model: type[Any], value: Any, settings: Any = None) -> ColumnElement[bool]:
        return getattr(model, self.column) <= value  # type: ignore[no-any-return]


@dataclass(frozen=True)
class In(Clause):
    """``column IN (values)`` (``?ids=3&ids=7``: the records a page needs by id, e.g. those in a plan)."""

    column: str

    def where(self, model: type[Any], value: Any, settings: Any = None) -> ColumnElement[bool]:
        return getattr(model, self.column).in_(value)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class IsNull(Clause):
    """``true``: the column is empty (e.g. not yet confirmed); ``false``: it is set."""

    column: str

    def where(self, model: type[Any], value: Any, settings: Any = None) -> ColumnElement[bool]:
        column = getattr(model, self.column)
        return column.is_(None) if value else column.is_not(None)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Unconfirmed(Clause):
    """``true``: not confirmed at a check-in within ``checkin_stale_days`` (a setting) or flagged changed, as
    ``GET /checkins/stale`` counts them; ``false``: confirmed lately and not flagged."""

    def where(self, model: type[Any], value: Any, settings: Any = None) -> ColumnElement[bool]:
        days = getattr(settings, "checkin_stale_days", 45)
        stale = or_(model.confirmed_at.is_(None), model.confirmed_at < datetime.now(UTC) - timedelta(days=days),
                    model.changed_at.is_not(None))
        return stale if value else not_(stale)


@dataclass(frozen=True)
class HasItem(Clause):
    """A JSON list column holding the string ``value`` (the same on SQLite and PostgreSQL: the list's JSON text
    holds ``"value"`` with its quotes, which a needs entry cannot fake since quotes are escaped inside strings)."""

    column: str

    def where(self, model: type[Any], value: Any, settings: Any = None) -> ColumnElement[bool]:
        text = _escape_like('"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"')
        return cast(getattr(model, self.column), String).like(f"%{text}%", escape="\\")


@dataclass(frozen=True)
class Text(Clause):
    """Any of the columns contains the words, case-insensitive (a search box)."""

    columns: tuple[str, ...]

    def where(self, model: type[Any], value: Any, settings: Any = None) -> ColumnElement[bool]:
        pattern = f"%{_escape_like(str(value).lower())}%"
        return or_(*(func.lower(getattr(model, c)).like(pattern, escape="\\") for c in self.columns))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _no_nul(value: str | None) -> str | None:
    # PostgreSQL refuses NUL in a text comparison (a 500): a 422 naming the parameter instead.
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


SearchText = Annotated[str | None, Field(max_length=200), AfterValidator(_no_nul)]
Ids = Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None, Field(max_length=1000), In("id")]


class Filters(BaseModel):
    """Base of every list's query model; subclasses declare fields with a ``Clause`` in their metadata."""

    sort: str | None = None


class HouseholdFilters(Filters):
    """``GET /households`` query: search, filters, sort."""

    q: Annotated[SearchText, Text(("name", "phone", "address")),
                 Field(description="Words in the name, phone or address (case-insensitive)")] = None
    priority: Annotated[int | None, Eq("priority"), Field(ge=1, le=9)] = None
    priority_at_most: Annotated[int | None, AtMost("priority"), Field(ge=1, le=9,
                                description="1 is the most urgent: 2 lists priorities 1 and 2")] = None
    needs: Annotated[SearchText, HasItem("needs"), Field(description="Households with this need, e.g. oxygen")] = None
    zone: Annotated[SearchText, Eq("zone"), Field(description="The registered neighbourhood")] = None
    wheelchair_users: Annotated[int | None, Eq("wheelchair_users"), Field(ge=0, le=200)] = None
    ids: Ids = None
    unconfirmed: Annotated[bool | None, Unconfirmed(), Field(
        description="true: not confirmed at a check-in lately (EVAC_CHECKIN_STALE_DAYS) or flagged changed")] = None
    sort: Literal["id", "-id", "name", "-name", "address", "-address", "priority", "-priority", "people",
                  "-people", "created_at", "-created_at"] | None = None


class VehicleFilters(Filters):
    """``GET /vehicles`` query: search, filters, sort."""

    q: Annotated[SearchText, Text(("label", "address")),
                 Field(description="Words in the car's label or address (case-insensitive)")] = None
    wheelchair_spaces: Annotated[int | None, Eq("wheelchair_spaces"), Field(ge=0, le=50)] = None
    zone: Annotated[SearchText, Eq("zone"), Field(description="The registered neighbourhood")] = None
    ids: Ids = None
    unconfirmed: Annotated[bool | None, Unconfirmed(), Field(
        description="true: not confirmed at a check-in lately (EVAC_CHECKIN_STALE_DAYS) or flagged changed")] = None
    sort: Literal["id", "-id", "label", "-label", "seats", "-seats", "wheelchair_spaces", "-wheelchair_spaces",
                  "available_from_minute", "-available_from_minute"] | None = None


class ShelterFilters(Filters):
    """``GET /shelters`` query: search and sort."""

    q: Annotated[SearchText, Text(("name", "address")),
                 Field(description="Words in the shelter's name or address (case-insensitive)")] = None
    sort: Literal["id", "-id", "name", "-name", "capacity", "-capacity"] | None = None


def clauses(filters: Filters) -> list[tuple[Clause, Any]]:
    """The (clause, value) pairs of the filters that were given."""
    found = []
    for name, info in type(filters).model_fields.items():
        value = getattr(filters, name)
        if value is None or value == "" or value == []:
            continue
        found += [(m, value) for m in info.metadata if isinstance(m, Clause)]
    return found


def filtered(query: Select[Any], model: type[Any], filters: Filters | None, settings: Any = None) -> Select[Any]:
    """``query`` narrowed by the given filters and ordered by ``filters.sort`` (then by id)."""
    if filters is None:
        return query
    for clause, value in clauses(filters):
        query = query.where(clause.where(model, value, settings))
    if filters.sort:
        column = getattr(model, filters.sort.lstrip("-"))
        query = query.order_by(None).order_by(column.desc() if filters.sort.startswith("-") else column.asc(),
                                              model.id.asc())
    return query


@dataclass(frozen=True)
class Page:
    """One page of a list and the length of the whole (filtered) list."""

    items: Sequence[Any]
    total: int


def page(session: Session, query: Select[Any], offset: int, limit: int) -> Page:
    """The rows ``offset .. offset+limit`` of ``query`` and the total count of its rows."""
    items = session.scalars(query.offset(offset).limit(limit)).all()
    if offset == 0 and len(items) < limit:  # the whole list is here: no second query
        return Page(items, len(items))
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return Page(items, int(total or 0))


def answer(response: Response, found: Page) -> Sequence[Any]:
    """The page's items as the response body; the total in the ``X-Total-Count`` header."""
    response.headers[TOTAL_HEADER] = str(found.total)
    return found.items


#: ``responses=`` entry documenting the total header on a list route's 200.
TOTAL_DOC: dict[int | str, dict[str, Any]] = {200: {"headers": {TOTAL_HEADER: {
    "description": "How many items the whole filtered list has (this page holds at most `limit` of them)",
    "schema": {"type": "integer", "minimum": 0}}}}}
