"""CSV import and export of the rosters. An import lands whole or not at all, reporting every bad row.

Rows count like a spreadsheet's: the header is row 1. A row with an ``id`` updates that record (its ``version``,
when given, must still be current); a row without one creates a record. ``needs`` and ``languages`` are separated
by ``;``. A household row that repeats a stored household or an earlier row (same phone, or same name at the same
place) is reported like any bad row.

Large files: every row is checked first (the positions against the map all at once, in one vectorised step), then
the new rows go in with multi-row INSERTs, in the transaction that also holds the updates and the audit entry; a
50,000-row file takes a few seconds (``python -m benchmarks.rosters``, figures in ``docs/rosters.md``).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, select

from api import audit, crud, models, schemas
from api.errors import Duplicate, NotFound, RowError, RowErrors, ServiceError
from api.phones import to_e164
from matcher.errors import InputError

MAX_ROWS = 50_000
#: Columns holding lists, separated by ``;`` in a cell.
LISTS = frozenset({"needs", "languages"})
#: Text cells starting with these would run as formulas in a spreadsheet; exported with a leading apostrophe.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A piece of a cell a spreadsheet could read as a formula: at the cell's start or after a `,` or `;` (a
#: spreadsheet may split on either, depending on its locale), after any blanks. An apostrophe goes before it on
#: export ("x;=1+1" -> "x;'=1+1") and is taken away again on import.
FORMULA_PIECE = re.compile(r"((?:^|[,;])\s*)(?=[=+\-@\t\r])")
NEUTRALISED_PIECE = re.compile(r"((?:^|[,;])\s*)'(?=[=+\-@\t\r])")


@dataclass(frozen=True)
class Roster:
    entity: str
    model: type[Any]
    columns: tuple[str, ...]
    #: The column naming a person by e-mail, mapped to this id field.
    person: tuple[str, str] | None
    create: type[schemas.Strict]
    update: type[schemas.Strict]
    #: The checked column values of a new record (``crud.household_values``, ...).
    values: Callable[..., dict[str, Any]]
    find: Callable[[crud.Context, int], Any]
    change: Callable[[crud.Context, Any, dict[str, Any], str], None]
    query: Callable[[crud.Context], Select[Any]]
    #: Roles that may import this roster.
    writers: tuple[str, ...]


def _find_shelter(ctx: crud.Context, shelter_id: int) -> models.Shelter:
    crud.access.require_role(ctx.user, "coordinator", action="change shelters")
    return crud.get_shelter(ctx, shelter_id)


def _find_household(ctx: crud.Context, household_id: int) -> models.Household:
    household = crud.find_household(ctx, household_id)
    if not crud.access.can_change_household(ctx.user, household):
        raise NotFound("household", household_id)
    return household


ROSTERS = {
    "vehicles": Roster(
        "vehicle", models.Vehicle,
        ("id", "version", "owner_email", "label", "seats", "wheelchair_spaces", "kind", "available_from_minute",
         "available_until_minute", "address", "lat", "lon", "zone", "takes_pets", "languages"),
        ("owner_email", "owner_id"), schemas.VehicleCreate, schemas.VehicleUpdate, crud.vehicle_values,
        crud.find_vehicle, crud.change_vehicle, crud.vehicles_query, ("volunteer", "coordinator"),
    ),
    "households": Roster(
        "household", models.Household,
        ("id", "version", "registrar_email", "name", "phone", "address", "lat", "lon", "people", "wheelchair_users",
         "needs", "pets", "language", "priority", "max_walk_meters", "notes", "zone"),
        ("registrar_email", "registrar_id"), schemas.HouseholdCreate, schemas.HouseholdUpdate, crud.household_values,
        _find_household, crud.change_household, crud.households_query, ("registrar", "coordinator"),
    ),
    "shelters": Roster(
        "shelter", models.Shelter,
        ("id", "version", "name", "address", "lat", "lon", "capacity", "wheelchair_accessible", "pets_allowed",
         "pet_capacity", "medical_support", "languages", "zone"),
        None, schemas.ShelterCreate, schemas.ShelterUpdate, crud.shelter_values, _find_shelter, crud.change_shelter,
        crud.shelters_query, ("coordinator",),
    ),
}


# --- export -----------------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = ";".join(map(str, value))
    if isinstance(value, str):
        return FORMULA_PIECE.sub(r"\1'", value)
    return str(value)


def export_csv(ctx: crud.Context, kind: str) -> str:
    """The roster as CSV (only the rows the user may see); the export is audited."""
    roster = ROSTERS[kind]
    rows = ctx.session.scalars(roster.query(ctx)).all()
    emails: dict[int, str] = {}
    if roster.person is not None:
        ids = {getattr(r, roster.person[1]) for r in rows}
        found = ctx.session.execute(select(models.User.id, models.User.email).where(models.User.id.in_(ids)))
        emails = {user_id: email for user_id, email in found}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(roster.columns)
    for row in rows:
        cells = []
        for column in roster.columns:
            if roster.person is not None and column == roster.person[0]:
                cells.append(_cell(emails.get(getattr(row, roster.person[1]))))
            else:
                cells.append(_cell(getattr(row, column)))
        writer.writerow(cells)
    audit.record(ctx.session, ctx.user, "export", roster.entity, ids=[r.id for r in rows])
    crud.commit(ctx.session, roster.entity)
    return out.getvalue()


# --- import -----------------------------------------------------------------------------------------------------


def _read(content: bytes, roster: Roster) -> list[dict[str, str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.start}); save the sheet as CSV UTF-8"
        raise RowErrors([RowError(1, "file", message)]) from None
    if "\x00" in text:
        raise RowErrors([RowError(1, "file", "contains NUL characters: not a CSV file")])
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    errors = [RowError(1, name or "(empty)", f"unknown column; the columns are: {', '.join(roster.columns)}")
              for name in header if name not in roster.columns]
    if not header:
        errors.append(RowError(1, "file", f"no header row; the columns are: {', '.join(roster.columns)}"))
    if errors:
        raise RowErrors(errors)
    rows: list[dict[str, str]] = []
    try:
        for row in reader:
            if None in row:  # more cells than header columns
                raise RowErrors([RowError(len(rows) + 2, "file", "more cells than header columns")])
            rows.append({k: (v or "").strip() for k, v in row.items()})
            if len(rows) > MAX_ROWS:
                raise RowErrors([RowError(len(rows) + 1, "file", f"more than {MAX_ROWS} rows; split the file")])
    except csv.Error as exc:
        raise RowErrors([RowError(reader.line_num, "file", f"not valid CSV: {exc}")]) from None
    return rows


def _values(row: dict[str, str], roster: Roster) -> dict[str, Any]:
    """Cells to field values: empty cells are left out (defaults, or unchanged); apostrophes undone."""
    values: dict[str, Any] = {}
    for column, cell in row.items():
        if cell == "" or column in ("id", "version") or (roster.person and column == roster.person[0]):
            continue
        if "'" in cell:  # only a cell with an apostrophe can hold a neutralised formula (50,000 rows: skip the rest)
            cell = NEUTRALISED_PIECE.sub(r"\1", cell)
        values[column] = [n.strip() for n in cell.split(";") if n.strip()] if column in LISTS else cell
    return values


def _pydantic_errors(number: int, exc: ValidationError) -> list[RowError]:
    return [RowError(number, ".".join(str(p) for p in e["loc"]) or "row", e["msg"]) for e in exc.errors()]


def addresses_to_locate(content: bytes, kind: str) -> list[str]:
    """The addresses of rows that give no lat/lon: what an import will geocode (none when the file is unreadable:
    the import itself then reports why)."""
    try:
        rows = _read(content, ROSTERS[kind])
    except RowErrors:
        return []
    return [row["address"] for row in rows if row.get("address") and not row.get("lat") and not row.get("lon")]


def import_csv(ctx: crud.Context, kind: str, content: bytes) -> schemas.ImportResult:
    """Create or update every row in one transaction, or raise ``RowErrors`` listing every bad row."""
    roster = ROSTERS[kind]
    crud.access.require_role(ctx.user, *roster.writers, action=f"import {kind}")
    rows = _read(content, roster)
    # Positions are collected while the rows are checked and tested against the map together at the end.
    ctx = dataclasses.replace(ctx, positions=crud.PositionBatch())
    errors: list[RowError] = []
    created: list[Any] = []
    updated: list[Any] = []
    pending = crud.PendingHouseholds() if roster.entity == "household" else None  # this file's new households
    if pending is not None:
        pending.stored = crud.StoredHouseholds.fetch(ctx, *_duplicate_keys(ctx, rows, roster))
    people: dict[str, int | None] = {}
    for number, row in enumerate(rows, start=2):
        errors += _check_row(ctx, roster, number, row, people, created, updated, pending)
    assert ctx.positions is not None
    for record, message in ctx.positions.off_map(ctx.settings):  # records are "row <number>" (``_check_row``)
        errors.append(RowError(int(record.removeprefix("row ")), "lat", message))
    if errors:
        ctx.session.rollback()
        raise RowErrors(sorted(errors, key=lambda e: e.row))
    new_ids = crud.bulk_insert(ctx.session, roster.model, created)
    ids = new_ids + [obj.id for obj in updated]
    audit.record(ctx.session, ctx.user, "import", roster.entity, created=new_ids, updated=[o.id for o in updated])
    crud.commit(ctx.session, roster.entity)
    return schemas.ImportResult(created=len(created), updated=len(updated), ids=ids)


def _duplicate_keys(ctx: crud.Context, rows: list[dict[str, str]], roster: Roster) -> tuple[set[str], set[str]]:
    """The phones (E.164) and names of the rows, read as each row's own check reads them, for one bulk look-up."""
    phones: set[str] = set()
    names: set[str] = set()
    for number, row in enumerate(rows, start=2):
        values = _values(row, roster)
        names.add(str(values.get("name", "")).strip())
        with contextlib.suppress(InputError):  # a phone that does not parse is reported by its row's check
            phones.add(to_e164(f"row {number}", str(values.get("phone", "")), ctx.settings.phone_region))
    return phones - {""}, names - {""}


def _check_row(ctx: crud.Context, roster: Roster, number: int, row: dict[str, str], people: dict[str, int | None],
               created: list[Any], updated: list[Any], pending: crud.PendingHouseholds | None = None) -> list[RowError]:
    """Check one row (a new record into ``created``, a changed one into ``updated``); its errors."""
    record = f"row {number}"
    values = _values(row, roster)
    try:
        if roster.person is not None and row.get(roster.person[0]):
            email = row[roster.person[0]].lower()
            if email not in people:
                people[email] = ctx.session.scalar(select(models.User.id).where(models.User.email == email))
            if people[email] is None:
                raise InputError(record, roster.person[0], f"no account with e-mail {email}")
            values[roster.person[1]] = people[email]
        if row.get("id"):
            updated.append(_update_row(ctx, roster, row, values, record))
        elif roster.entity == "household":
            created.append(crud.household_values(ctx, schemas.HouseholdCreate.model_validate(values), record, pending))
        else:
            created.append(roster.values(ctx, roster.create.model_validate(values), record))
    except ValidationError as exc:
        return _pydantic_errors(number, exc)
    except InputError as exc:
        return [RowError(number, exc.field, exc.message)]
    except NotFound as exc:
        return [RowError(number, "id", exc.message)]
    except Duplicate as exc:
        return [RowError(number, exc.field, exc.message.split(": ", 2)[-1])]
    except ServiceError as exc:
        return [RowError(number, "row", exc.message)]
    return []


def _update_row(ctx: crud.Context, roster: Roster, row: dict[str, str], values: dict[str, Any], record: str) -> Any:
    if not row["id"].isdigit() or not 1 <= int(row["id"]) < 2**31:
        raise InputError(record, "id", f"{row['id']!r} is not a record id (leave it empty to add a new one)")
    obj = roster.find(ctx, int(row["id"]))
    if row.get("version") and row["version"] != str(obj.version):
        raise InputError(record, "version", f"{roster.entity} {obj.id} was changed since this file was exported "
                                            f"(version {row['version']}, now {obj.version}): export it again")
    if roster.person is not None:  # an import does not move a record to another owner or registrar
        values.pop(roster.person[1], None)
    data = roster.update.model_validate({**values, "version": obj.version})
    roster.change(ctx, obj, crud.changes_of(data, record), record)
    return obj
