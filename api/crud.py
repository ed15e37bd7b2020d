"""Data operations: object-level authorization (``api.access``), positions, checks, audit entries, commit.

Each operation commits its own transaction, so a route answers only after its change (and the change's audit
entry) is stored. Lists are ordered by id (or a ``sort`` the caller picks), filtered by ``api.listing`` and paged
with ``offset``/``limit``; each answers a ``listing.Page`` (the page and the filtered list's total).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import JSON, Select, Table, func, insert, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from api import access, audit, listing, models, planning, schemas
from api.config import Settings
from api.errors import Conflict, Duplicate, Forbidden, NotFound, StaleVersion
from api.geocode import Geocoder, resolve_position
from api.phones import to_e164
from api.security import Passwords
from matcher.errors import InputError
from matcher.roads.graph import haversine_m

M = TypeVar("M", bound=models.Base)

#: Fields a PATCH may not set to null.
NOT_NULL = frozenset({"name", "phone", "language", "label", "address", "lat", "lon", "seats", "wheelchair_spaces",
                      "kind",
                      "available_from_minute", "people", "wheelchair_users", "needs", "pets", "priority", "notes",
                      "capacity", "wheelchair_accessible", "pets_allowed", "password", "role", "is_active",
                      "status", "takes_pets", "languages", "medical_support"})


@dataclass
class PositionBatch:
    """Positions of a bulk import, checked against the map in one vectorised step at the end (``place``)."""

    records: list[str] = field(default_factory=list)
    lats: list[float] = field(default_factory=list)
    lons: list[float] = field(default_factory=list)

    def add(self, record: str, lat: float, lon: float) -> None:
        self.records.append(record)
        self.lats.append(lat)
        self.lons.append(lon)

    def off_map(self, settings: Settings) -> list[tuple[str, str]]:
        """``(record, message)`` for each position too far from the map's roads."""
        return [(self.records[i], message) for i, message in planning.off_map(settings, self.lats, self.lons)]


@dataclass
class Context:
    """What every operation needs: the transaction, the acting user, and the process's services.

    ``positions``, when set, collects positions to check against the map later, all at once (imports).
    """

    session: Session
    user: models.User
    settings: Settings
    geocoder: Geocoder
    positions: PositionBatch | None = None


# --- shared steps ---------------------------------------------------------------------------------------------


R = TypeVar("R", models.Vehicle, models.Household, models.Shelter)


def _insert(ctx: Context, row: R, entity: str) -> R:
    """Store a new row with its audit entry in one transaction."""
    ctx.session.add(row)
    ctx.session.flush()
    audit.record(ctx.session, ctx.user, "create", entity, row.id)
    commit(ctx.session, entity, row.id)
    return row


def bulk_insert(session: Session, model: type[models.Base], rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert checked rows (column values, the same columns in each) of one table with multi-row INSERTs; their ids
    in order. Much faster than ORM objects for a 50,000-row import; unset columns take their defaults."""
    if not rows:
        return []
    table = models.Base.metadata.tables[model.__tablename__]
    if session.get_bind().dialect.name == "postgresql":
        return _bulk_insert_postgresql(session, table, rows)
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.scalars(statement, list(rows)))


def _bulk_insert_postgresql(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """PostgreSQL: reserve the ids from the table's sequence, then one pipelined executemany of a plain INSERT.

    SQLAlchemy's multi-row INSERT ... RETURNING spends most of a 50,000-row import in psycopg re-parsing each
    16,000-placeholder statement (27 s); a short statement sent 50,000 times in one pipeline takes a second or two.
    Reserved ids are never handed to anyone else, so concurrent inserts cannot clash with them.
    """
    ids = list(session.scalars(text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                               {"t": table.name, "n": len(rows)}))
    columns = [c for c in table.columns if not c.primary_key]
    cells = []
    for row_id, row in zip(ids, rows, strict=True):
        values: list[Any] = [row_id]
        for column in columns:
            value = row.get(column.key)
            default = column.default
            if value is None and default is not None:  # as an ordinary insert would fill it
                value = default.arg if default.is_scalar else default.arg(None)  # type: ignore[attr-defined]
            if isinstance(column.type, JSON) and value is not None:
                value = json.dumps(value)
            values.append(value)
        cells.append(tuple(values))
    names = ", ".join(["id", *(c.name for c in columns)])
    marks = ", ".join(["%s"] * (len(columns) + 1))
    session.connection().exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", cells)
    return ids


def commit(session: Session, entity: str, entity_id: object = "") -> None:
    """Commit; a lost version race becomes 409, a clash with stored data (a duplicate) 409 too."""
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        raise StaleVersion(entity, entity_id, None, None) from None
    except IntegrityError as exc:
        session.rollback()
        what = f"{entity} {entity_id}".strip()
        raise Conflict(f"{what}: conflicts with stored data ({type(exc.orig).__name__})") from None


def check_version(obj: Any, entity: str, given: int) -> None:
    if obj.version != given:
        raise StaleVersion(entity, obj.id, given, obj.version)


def changes_of(data: schemas.Strict, record: str) -> dict[str, Any]:
    """The fields a PATCH sets (``version`` aside); null only where null means something."""
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for name, value in changes.items():
        if value is None and name in NOT_NULL:
            raise InputError(record, name, "must not be null (leave the field out to keep it)")
    return changes


def place(ctx: Context, record: str, address: str, lat: float | None, lon: float | None) -> tuple[float, float]:
    """A record's position from lat/lon or its address, refused when off the loaded map."""
    lat, lon = resolve_position(ctx.geocoder, record, address, lat, lon)
    _on_map(ctx, record, lat, lon)
    return lat, lon


def _on_map(ctx: Context, record: str, lat: float, lon: float) -> None:
    if ctx.positions is not None:
        ctx.positions.add(record, lat, lon)
    else:
        planning.check_on_map(ctx.settings, record, lat, lon)


def moved_place(ctx: Context, record: str, obj: Any, changes: dict[str, Any]) -> None:
    """Apply a PATCH's position: lat/lon as given (the other kept), or a changed address geocoded."""
    if "lat" in changes or "lon" in changes:
        lat, lon = changes.pop("lat", obj.lat), changes.pop("lon", obj.lon)
    elif changes.get("address") and changes["address"] != obj.address:
        lat, lon = resolve_position(ctx.geocoder, record, changes["address"], None, None)
    else:
        return
    _on_map(ctx, record, lat, lon)
    obj.lat, obj.lon = lat, lon


def page(session: Session, query: Select[Any], offset: int, limit: int) -> listing.Page:
    return listing.page(session, query, offset, limit)


def _get(session: Session, model: type[M], entity: str, entity_id: int) -> M:
    obj = session.get(model, entity_id)
    if obj is None:
        raise NotFound(entity, entity_id)
    return obj


# --- users ------------------------------------------------------------------------------------------------------


def create_user(
    session: Session, passwords: Passwords | str, data: schemas.UserSignup, role: str, actor: models.User | None,
    approval: str = "approved",
) -> models.User:
    """A new account; the e-mail must be new (409 otherwise). ``passwords``: the hasher, or the hash made
    already (outside the database slots); ``approval``: ``pending`` for self-signed-up accounts."""
    if session.scalar(select(models.User.id).where(models.User.email == data.email)) is not None:
        raise Conflict(f"e-mail {data.email} is already registered")
    password_hash = passwords if isinstance(passwords, str) else passwords.hash(data.password)
    user = models.User(email=data.email, password_hash=password_hash, role=role, name=data.name,
                       phone=data.phone, language=data.language, approval=approval)
    session.add(user)
    session.flush()
    audit.record(session, actor or user, "create", "user", user.id, role=role, approval=approval)
    commit(session, "user", data.email)
    return user


def sign_up(session: Session, data: schemas.UserSignup, password_hash: str) -> None:
    """A self-signed-up volunteer account, pending approval; an e-mail already registered is left as it is and
    the answer is the same (so sign-up does not tell whether an account exists)."""
    if session.scalar(select(models.User.id).where(models.User.email == data.email)) is not None:
        return
    try:
        create_user(session, password_hash, data, "volunteer", None, approval="pending")
    except Conflict:  # the same e-mail signed up at the same moment: the same answer
        session.rollback()


def end_sessions(session: Session, actor: models.User, user: models.User, why: str) -> None:
    """End every session of ``user``: bump its token version (committed with an audit entry)."""
    user.token_version += 1
    audit.record(session, actor, "end_sessions", "user", user.id, why=why)
    commit(session, "user", user.id)


def change_password(session: Session, user_id: int, new_hash: str) -> models.User:
    """Store a user's new password (the caller checked the current one) and end all their sessions."""
    user = session.get_one(models.User, user_id)
    user.password_hash, user.must_change_password = new_hash, False
    user.token_version += 1
    audit.record(session, user, "change_password", "user", user.id)
    commit(session, "user", user.id)
    return user


def reset_password(ctx: Context, user_id: int, temporary_hash: str) -> models.User:
    """A coordinator's temporary password: the account's sessions end and it must change it at sign-in."""
    access.require_role(ctx.user, "coordinator", action="reset passwords")
    user = _get(ctx.session, models.User, "user", user_id)
    user.password_hash, user.must_change_password = temporary_hash, True
    user.token_version += 1
    audit.record(ctx.session, ctx.user, "reset_password", "user", user.id)
    commit(ctx.session, "user", user.id)
    return user


def approve_user(ctx: Context, user_id: int) -> models.User:
    access.require_role(ctx.user, "coordinator", action="approve accounts")
    user = _get(ctx.session, models.User, "user", user_id)
    if user.approval != "approved":
        user.approval = "approved"
        audit.record(ctx.session, ctx.user, "approve", "user", user.id)
        commit(ctx.session, "user", user.id)
    return user


def end_user_sessions(ctx: Context, user_id: int) -> models.User:
    access.require_role(ctx.user, "coordinator", action="end other accounts' sessions")
    user = _get(ctx.session, models.User, "user", user_id)
    end_sessions(ctx.session, ctx.user, user, "coordinator")
    return user


def get_user(ctx: Context, user_id: int) -> models.User:
    user = _get(ctx.session, models.User, "user", user_id)
    if not access.can_read_user(ctx.user, user):
        raise NotFound("user", user_id)
    if user.id != ctx.user.id:
        audit.record(ctx.session, ctx.user, "read", "user", user.id)
        commit(ctx.session, "user", user_id)
    return user


def list_users(ctx: Context, role: str | None, offset: int, limit: int,
               approval: str | None = None) -> listing.Page:
    access.require_role(ctx.user, "coordinator", action="list accounts")
    query = select(models.User).order_by(models.User.id)
    if role is not None:
        query = query.where(models.User.role == role)
    if approval is not None:
        query = query.where(models.User.approval == approval)
    users = page(ctx.session, query, offset, limit)
    audit.record(ctx.session, ctx.user, "list", "user", ids=[u.id for u in users.items])
    commit(ctx.session, "user")
    return users


def update_user(ctx: Context, user_id: int, data: schemas.UserUpdate) -> models.User:
    user = get_user(ctx, user_id)
    check_version(user, "user", data.version)
    changes = changes_of(data, f"user {user_id}")
    if ("role" in changes or "is_active" in changes) and not access.is_coordinator(ctx.user):
        raise Forbidden("only coordinators may change roles or deactivate accounts")
    if user.id == ctx.user.id and (changes.get("is_active") is False or changes.get("role", user.role) != user.role):
        # The last coordinator could otherwise lock everyone out; another coordinator can do it.
        raise Forbidden("you may not deactivate your own account or change your own role")
    if changes.get("is_active") is False and user.is_active:
        user.token_version += 1  # deactivated: its sessions end now, not when their tokens expire
    for name, value in changes.items():
        setattr(user, name, value)
    audit.record(ctx.session, ctx.user, "update", "user", user.id, fields=sorted(data.model_fields_set - {"version"}))
    commit(ctx.session, "user", user_id)
    return user


# --- vehicles ---------------------------------------------------------------------------------------------------


def _vehicle_owner(ctx: Context, owner_id: int | None) -> int:
    if owner_id is None or owner_id == ctx.user.id:
        access.require_role(ctx.user, "volunteer", "coordinator", action="register vehicles")
        return ctx.user.id
    access.require_role(ctx.user, "coordinator", action="register a vehicle for someone else")
    owner = ctx.session.get(models.User, owner_id)
    if owner is None:
        raise InputError("vehicle", "owner_id", f"no account {owner_id}")
    return owner.id


#: A car's bounds; only a vehicle a coordinator marks as a van or bus may have more (docs/security.md).
CAR_MAX_SEATS, CAR_MAX_WHEELCHAIR_SPACES = 8, 4


def _check_car_bounds(ctx: Context, record: str, vehicle: models.Vehicle | SimpleNamespace,
                      kind_changed: bool) -> None:
    if kind_changed and vehicle.kind != "car" and not access.is_coordinator(ctx.user):
        raise Forbidden(f"{record}: only coordinators may mark a vehicle as a {vehicle.kind}")
    if vehicle.kind != "car":
        return
    if vehicle.seats > CAR_MAX_SEATS:
        raise InputError(record, "seats", f"a car has at most {CAR_MAX_SEATS} seats for riders (a coordinator "
                                          "may register a van or bus with more)")
    if vehicle.wheelchair_spaces > CAR_MAX_WHEELCHAIR_SPACES:
        raise InputError(record, "wheelchair_spaces", f"a car has at most {CAR_MAX_WHEELCHAIR_SPACES} wheelchair "
                                                      "spaces (a coordinator may register a van or bus with more)")


def vehicle_values(ctx: Context, data: schemas.VehicleCreate, record: str = "vehicle") -> dict[str, Any]:
    """The checked column values of a new vehicle (CSV imports check every row before adding any). A volunteer's
    car is ``pending`` until a coordinator approves it; a coordinator's is approved."""
    owner_id = _vehicle_owner(ctx, data.owner_id)
    approval = "approved" if access.is_coordinator(ctx.user) else "pending"
    values: dict[str, Any] = {"owner_id": owner_id, "approval": approval,
                              **data.model_dump(exclude={"owner_id", "lat", "lon"})}
    _check_car_bounds(ctx, record, SimpleNamespace(**values), kind_changed=True)
    values["lat"], values["lon"] = place(ctx, record, data.address, data.lat, data.lon)
    checked = SimpleNamespace(**values)
    planning.check_vehicle(record, checked)
    values["languages"] = list(checked.languages)  # as the matcher writes them
    return values


def new_vehicle(ctx: Context, data: schemas.VehicleCreate, record: str = "vehicle") -> models.Vehicle:
    """A checked vehicle, not yet added."""
    return models.Vehicle(**vehicle_values(ctx, data, record))


def create_vehicle(ctx: Context, data: schemas.VehicleCreate) -> models.Vehicle:
    vehicle = new_vehicle(ctx, data)
    return _insert(ctx, vehicle, "vehicle")


def find_vehicle(ctx: Context, vehicle_id: int) -> models.Vehicle:
    vehicle = _get(ctx.session, models.Vehicle, "vehicle", vehicle_id)
    if not access.can_read_vehicle(ctx.user, vehicle):
        raise NotFound("vehicle", vehicle_id)
    return vehicle


def get_vehicle(ctx: Context, vehicle_id: int) -> models.Vehicle:
    vehicle = find_vehicle(ctx, vehicle_id)
    if vehicle.owner_id != ctx.user.id:  # a volunteer's home position is personal data
        audit.record(ctx.session, ctx.user, "read", "vehicle", vehicle.id)
        commit(ctx.session, "vehicle", vehicle_id)
    return vehicle


def vehicles_query(ctx: Context, owner_id: int | None = None, approval: str | None = None) -> Select[Any]:
    access.require_role(ctx.user, "volunteer", "coordinator", action="list vehicles")
    query = select(models.Vehicle).order_by(models.Vehicle.id)
    if approval is not None:
        query = query.where(models.Vehicle.approval == approval)
    if not access.is_coordinator(ctx.user):
        return query.where(models.Vehicle.owner_id == ctx.user.id)
    return query if owner_id is None else query.where(models.Vehicle.owner_id == owner_id)


def list_vehicles(ctx: Context, owner_id: int | None, offset: int, limit: int,
                  approval: str | None = None, filters: listing.VehicleFilters | None = None) -> listing.Page:
    query = listing.filtered(vehicles_query(ctx, owner_id, approval), models.Vehicle, filters, ctx.settings)
    vehicles = page(ctx.session, query, offset, limit)
    if access.is_coordinator(ctx.user):
        audit.record(ctx.session, ctx.user, "list", "vehicle", ids=[v.id for v in vehicles.items])
        commit(ctx.session, "vehicle")
    return vehicles


def change_vehicle(ctx: Context, vehicle: models.Vehicle, changes: dict[str, Any], record: str) -> None:
    kind_changed = "kind" in changes and changes["kind"] != vehicle.kind
    for name, value in changes.items():
        if name not in ("lat", "lon", "address"):
            setattr(vehicle, name, value)
    _check_car_bounds(ctx, record, vehicle, kind_changed)
    moved_place(ctx, record, vehicle, changes)
    for name, value in changes.items():
        setattr(vehicle, name, value)
    planning.check_vehicle(record, vehicle)


def approve_vehicle(ctx: Context, vehicle_id: int) -> models.Vehicle:
    """A coordinator approves a car a volunteer registered: it takes part in plans from the next one on."""
    access.require_role(ctx.user, "coordinator", action="approve vehicles")
    vehicle = _get(ctx.session, models.Vehicle, "vehicle", vehicle_id)
    if vehicle.approval != "approved":
        vehicle.approval = "approved"
        audit.record(ctx.session, ctx.user, "approve", "vehicle", vehicle.id)
        commit(ctx.session, "vehicle", vehicle_id)
    return vehicle


def update_vehicle(ctx: Context, vehicle_id: int, data: schemas.VehicleUpdate) -> models.Vehicle:
    vehicle = find_vehicle(ctx, vehicle_id)
    check_version(vehicle, "vehicle", data.version)
    change_vehicle(ctx, vehicle, changes_of(data, f"vehicle {vehicle_id}"), f"vehicle {vehicle_id}")
    audit.record(ctx.session, ctx.user, "update", "vehicle", vehicle.id,
                 fields=sorted(data.model_fields_set - {"version"}))
    commit(ctx.session, "vehicle", vehicle_id)
    return vehicle


def delete_vehicle(ctx: Context, vehicle_id: int, version: int) -> None:
    vehicle = find_vehicle(ctx, vehicle_id)
    check_version(vehicle, "vehicle", version)
    ctx.session.delete(vehicle)
    audit.record(ctx.session, ctx.user, "delete", "vehicle", vehicle_id)
    commit(ctx.session, "vehicle", vehicle_id)


# --- households -------------------------------------------------------------------------------------------------


def _registrar(ctx: Context, registrar_id: int | None) -> int:
    access.require_role(ctx.user, "registrar", "coordinator", action="register households")
    if registrar_id is None or registrar_id == ctx.user.id:
        return ctx.user.id
    access.require_role(ctx.user, "coordinator", action="register a household in someone else's name")
    registrar = ctx.session.get(models.User, registrar_id)
    if registrar is None or registrar.role == "volunteer":
        raise InputError("household", "registrar_id", f"no registrar or coordinator account {registrar_id}")
    return registrar.id


@dataclass
class PendingHouseholds:
    """The households of one import not stored yet, indexed by phone and by name for the duplicate check."""

    phones: dict[str, str] = field(default_factory=dict)
    names: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)
    #: The stored households the import's rows may repeat, fetched in bulk before the rows are checked.
    stored: StoredHouseholds | None = None

    def add(self, label: str, household: Any) -> None:
        if household.phone:
            self.phones.setdefault(household.phone, label)
        if household.name.strip():
            self.names.setdefault(household.name.strip().casefold(), []).append((label, household))

    def candidates(self, household: Any) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        if household.phone and household.phone in self.phones:
            out.append((self.phones[household.phone], SimpleNamespace(phone=household.phone, name="", lat=0, lon=0)))
        out += self.names.get(household.name.strip().casefold(), [])
        return out


#: Values per ``IN (...)`` of the bulk duplicate look-up: well below every backend's limit on bound parameters.
DUPLICATE_CHUNK = 500


@dataclass
class StoredHouseholds:
    """Stored households sharing a phone or a name with an import's rows, fetched in a few bulk queries (one per
    ``DUPLICATE_CHUNK`` phones or names) instead of one per row; each row then looks its candidates up here."""

    phones: dict[str, list[models.Household]] = field(default_factory=dict)
    names: dict[str, list[models.Household]] = field(default_factory=dict)

    @classmethod
    def fetch(cls, ctx: Context, phones: Iterable[str], names: Iterable[str]) -> StoredHouseholds:
        """The stored households with one of ``phones`` (E.164) or ``names`` (any case), as ``refuse_duplicate``
        would find them one row at a time."""
        out = cls()
        wanted = [(models.Household.phone, sorted(set(filter(None, phones)))),
                  (func.lower(models.Household.name), sorted({n.strip().lower() for n in names if n.strip()}))]
        found: dict[int, models.Household] = {}
        for column, values in wanted:
            for start in range(0, len(values), DUPLICATE_CHUNK):
                chunk = values[start:start + DUPLICATE_CHUNK]
                found.update((h.id, h) for h in ctx.session.scalars(select(models.Household).where(column.in_(chunk))))
        for household in sorted(found.values(), key=lambda h: h.id):
            if household.phone:
                out.phones.setdefault(household.phone, []).append(household)
            out.names.setdefault(household.name.strip().casefold(), []).append(household)
        return out

    def candidates(self, household: Any) -> list[models.Household]:
        """Stored households with its phone or its name, by id."""
        found = {h.id: h for h in self.phones.get(household.phone, []) if household.phone}
        found.update((h.id, h) for h in self.names.get(household.name.strip().casefold(), []))
        return [found[k] for k in sorted(found)]


def household_values(ctx: Context, data: schemas.HouseholdCreate, record: str = "household",
                     pending: PendingHouseholds | None = None) -> dict[str, Any]:
    """The checked column values of a new household (CSV imports check every row before adding any).

    The phone is stored in E.164 (422 naming ``phone`` when it is no number); a household that repeats a
    stored one or one of ``pending`` (the same import) is refused with 409 unless ``data.not_duplicate``.
    """
    registrar_id = _registrar(ctx, data.registrar_id)
    phone = to_e164(record, data.phone, ctx.settings.phone_region)
    lat, lon = place(ctx, record, data.address, data.lat, data.lon)
    values = {"registrar_id": registrar_id, "lat": lat, "lon": lon,
              **data.model_dump(exclude={"registrar_id", "lat", "lon", "not_duplicate"}), "phone": phone}
    checked = SimpleNamespace(**values)
    planning.check_household(record, checked)  # known needs in their canonical spelling, language codes
    values["needs"], values["language"] = list(checked.needs), checked.language
    if not data.not_duplicate:
        refuse_duplicate(ctx, record, checked, pending.candidates(checked) if pending else (),
                         pending.stored if pending else None)
    if pending is not None:
        pending.add(f"{record} of this file", checked)
    return values


def new_household(ctx: Context, data: schemas.HouseholdCreate, record: str = "household") -> models.Household:
    """A checked household, not yet added."""
    return models.Household(**household_values(ctx, data, record))


def _same_place(a: Any, b: Any, meters: float) -> bool:
    return bool(haversine_m(np.array([a.lon]), np.array([a.lat]), np.array([b.lon]), np.array([b.lat]))[0] <= meters)


def refuse_duplicate(ctx: Context, record: str, household: Any, pending: Sequence[tuple[str, Any]] = (),
                     prefetched: StoredHouseholds | None = None) -> None:
    """Raise ``Conflict`` (409) naming the household this one repeats: same phone, or same name at the same place.

    Only the id is named: the caller may not be allowed to read the other registration, and an id lets a
    coordinator look. ``pending`` are ``(label, row)`` of the same import, not yet stored (``row 3``);
    ``prefetched``, the stored candidates an import fetched in bulk (then no query is made here).
    """
    name = household.name.strip().casefold()
    clauses = []
    if household.phone:
        clauses.append(models.Household.phone == household.phone)
    if name:
        clauses.append(func.lower(models.Household.name) == household.name.strip().lower())
    if not clauses:
        return
    if prefetched is not None:
        stored = prefetched.candidates(household)
    else:
        stored = list(ctx.session.scalars(select(models.Household).where(or_(*clauses))
                                          .order_by(models.Household.id)))
    meters = ctx.settings.duplicate_meters
    for label, other in [*((f"household {o.id}", o) for o in stored), *pending]:
        if other is household:
            continue
        if household.phone and other.phone == household.phone:
            field, why = "phone", f"phone {household.phone}"
        elif name and other.name.strip().casefold() == name and _same_place(household, other, meters):
            field, why = "name", f"name at the same place (within {meters:g} m)"
        else:
            continue
        raise Duplicate(record, field, f"looks like {label}, already registered (same {why}); if it is a different "
                        "household, send it again with not_duplicate: true")


def create_household(ctx: Context, data: schemas.HouseholdCreate) -> models.Household:
    household = new_household(ctx, data)
    return _insert(ctx, household, "household")


def find_household(ctx: Context, household_id: int) -> models.Household:
    household = ctx.session.get(models.Household, household_id)
    # The access check runs for a missing id too: a 404 takes as long whether or not the household exists.
    readable = access.can_read_household(ctx.user, household, ctx.session)
    if household is None or not readable:
        raise NotFound("household", household_id)
    return household


def get_household(ctx: Context, household_id: int) -> models.Household:
    household = find_household(ctx, household_id)
    audit.record(ctx.session, ctx.user, "read", "household", household.id)
    commit(ctx.session, "household", household_id)
    return household


def households_query(ctx: Context, registrar_id: int | None = None) -> Select[Any]:
    access.require_role(ctx.user, "registrar", "coordinator", action="list households")
    query = select(models.Household).order_by(models.Household.id)
    if not access.is_coordinator(ctx.user):
        return query.where(models.Household.registrar_id == ctx.user.id)
    return query if registrar_id is None else query.where(models.Household.registrar_id == registrar_id)


def list_households(ctx: Context, registrar_id: int | None, offset: int, limit: int,
                    filters: listing.HouseholdFilters | None = None) -> listing.Page:
    query = listing.filtered(households_query(ctx, registrar_id), models.Household, filters, ctx.settings)
    households = page(ctx.session, query, offset, limit)
    audit.record(ctx.session, ctx.user, "list", "household", ids=[h.id for h in households.items])
    commit(ctx.session, "household")
    return households


def change_household(ctx: Context, household: models.Household, changes: dict[str, Any], record: str) -> None:
    if "phone" in changes:
        changes["phone"] = to_e164(record, changes["phone"], ctx.settings.phone_region)
    moved_place(ctx, record, household, changes)
    for name, value in changes.items():
        setattr(household, name, value)
    planning.check_household(record, household)


def update_household(ctx: Context, household_id: int, data: schemas.HouseholdUpdate) -> models.Household:
    household = find_household(ctx, household_id)
    if not access.can_change_household(ctx.user, household):
        raise Forbidden(f"you may not change household {household_id}")
    check_version(household, "household", data.version)
    change_household(ctx, household, changes_of(data, f"household {household_id}"), f"household {household_id}")
    audit.record(ctx.session, ctx.user, "update", "household", household.id,
                 fields=sorted(data.model_fields_set - {"version"}))
    commit(ctx.session, "household", household_id)
    return household


def delete_household(ctx: Context, household_id: int, version: int) -> None:
    household = find_household(ctx, household_id)
    if not access.can_change_household(ctx.user, household):
        raise Forbidden(f"you may not delete household {household_id}")
    check_version(household, "household", version)
    ctx.session.delete(household)
    audit.record(ctx.session, ctx.user, "delete", "household", household_id)
    commit(ctx.session, "household", household_id)


# --- shelters: public places, readable by every signed-in user, changed by coordinators -------------------------


def shelter_values(ctx: Context, data: schemas.ShelterCreate, record: str = "shelter") -> dict[str, Any]:
    """The checked column values of a new shelter (CSV imports check every row before adding any)."""
    access.require_role(ctx.user, "coordinator", action="register shelters")
    lat, lon = place(ctx, record, data.address, data.lat, data.lon)
    values = {"lat": lat, "lon": lon, **data.model_dump(exclude={"lat", "lon"})}
    checked = SimpleNamespace(**values)
    planning.check_shelter(record, checked)
    values["languages"] = list(checked.languages)  # as the matcher writes them
    return values


def new_shelter(ctx: Context, data: schemas.ShelterCreate, record: str = "shelter") -> models.Shelter:
    """A checked shelter, not yet added."""
    return models.Shelter(**shelter_values(ctx, data, record))


def create_shelter(ctx: Context, data: schemas.ShelterCreate) -> models.Shelter:
    shelter = new_shelter(ctx, data)
    return _insert(ctx, shelter, "shelter")


def get_shelter(ctx: Context, shelter_id: int) -> models.Shelter:
    return _get(ctx.session, models.Shelter, "shelter", shelter_id)


def shelters_query(ctx: Context) -> Select[Any]:
    return select(models.Shelter).order_by(models.Shelter.id)


def list_shelters(ctx: Context, offset: int, limit: int, filters: listing.ShelterFilters | None = None) -> listing.Page:
    return page(ctx.session, listing.filtered(shelters_query(ctx), models.Shelter, filters), offset, limit)


def change_shelter(ctx: Context, shelter: models.Shelter, changes: dict[str, Any], record: str) -> None:
    moved_place(ctx, record, shelter, changes)
    for name, value in changes.items():
        setattr(shelter, name, value)
    planning.check_shelter(record, shelter)


def update_shelter(ctx: Context, shelter_id: int, data: schemas.ShelterUpdate) -> models.Shelter:
    shelter = get_shelter(ctx, shelter_id)
    access.require_role(ctx.user, "coordinator", action="change shelters")
    check_version(shelter, "shelter", data.version)
    change_shelter(ctx, shelter, changes_of(data, f"shelter {shelter_id}"), f"shelter {shelter_id}")
    audit.record(ctx.session, ctx.user, "update", "shelter", shelter.id,
                 fields=sorted(data.model_fields_set - {"version"}))
    commit(ctx.session, "shelter", shelter_id)
    return shelter


def delete_shelter(ctx: Context, shelter_id: int, version: int) -> None:
    shelter = get_shelter(ctx, shelter_id)
    access.require_role(ctx.user, "coordinator", action="delete shelters")
    check_version(shelter, "shelter", version)
    ctx.session.delete(shelter)
    audit.record(ctx.session, ctx.user, "delete", "shelter", shelter_id)
    commit(ctx.session, "shelter", shelter_id)


# --- audit log ----------------------------------------------------------------------------------------------------


def list_audit(
    ctx: Context, entity: str | None, entity_id: int | None, user_id: int | None, offset: int, limit: int
) -> listing.Page:
    access.require_role(ctx.user, "coordinator", action="read the audit log")
    query = select(models.AuditEntry).order_by(models.AuditEntry.id)
    if entity is not None:
        query = query.where(models.AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(models.AuditEntry.entity_id == entity_id)
    if user_id is not None:
        query = query.where(models.AuditEntry.user_id == user_id)
    return page(ctx.session, query, offset, limit)


def count(session: Session, model: type[models.Base]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)
