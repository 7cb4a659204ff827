"""Accounts: users with argon2id password hashes, devices with per-device tokens, and sign-in throttling.

A token is 32 random bytes given to the device once at sign-in; only its SHA-256 is stored, so
a copy of the database cannot be used to sign in. Failed sign-ins are counted in the database
(not in a worker's memory), so several stateless workers agree on who must wait.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..core.sync.protocol import canonical_uuid
from .errors import ApiError
from .settings import ServerSettings
from .tables import Device, LoginThrottle, User, UserVersion

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 8
WRONG_LOGIN = "Wrong user name or password."


def now() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def hasher(settings: ServerSettings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )


def check_user_name(name: str) -> str:
    if not USER_NAME.match(name or ""):
        raise ValueError("a user name is 1-64 letters, digits and . _ @ - (starting with a letter or digit)")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


# -- administration (the CLI) ---------------------------------------------------------------------
def add_user(session: Session, settings: ServerSettings, name: str, password: str) -> User:
    check_user_name(name)
    if session.scalar(select(User).where(User.name == name)):
        raise ValueError(f"there is already a user called {name}")
    user = User(name=name, password_hash=hasher(settings).hash(check_password(password)), created_at=now())
    session.add(user)
    session.flush()
    session.add(UserVersion(user_id=user.id, seq=0))
    return user


def reset_password(session: Session, settings: ServerSettings, name: str, password: str) -> int:
    """A new password; every device of the user is signed out. Returns how many were."""
    user = user_named(session, name)
    user.password_hash = hasher(settings).hash(check_password(password))
    return revoke_all(session, user.id)


def user_named(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise LookupError(f"no user called {name}")
    return user


def revoke_all(session: Session, user_id: int) -> int:
    result = session.execute(
        update(Device)
        .where(Device.user_id == user_id, Device.revoked_at.is_(None))
        .values(revoked_at=now(), token_hash=None)
    )
    return result.rowcount


def revoke_device(session: Session, user_id: int | None, device_id: str) -> Device | None:
    """Revoke one device (of ``user_id``, or of anyone for the admin); None when there is no such device."""
    query = select(Device).where(Device.id == device_id)
    if user_id is not None:
        query = query.where(Device.user_id == user_id)
    devices = session.scalars(query).all()
    if len(devices) != 1:
        return None
    device = devices[0]
    if device.revoked_at is None:
        device.revoked_at = now()
    device.token_hash = None  # the token can never match again
    return device


# -- signing in ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Principal:
    """Who a request is from: every query is scoped by ``user_id``."""

    user_id: int
    user_name: str
    device_id: str


_DUMMY_HASH: dict[tuple[int, int, int], str] = {}


def _dummy_hash(ph: PasswordHasher) -> str:
    key = (ph.time_cost, ph.memory_cost, ph.parallelism)
    if key not in _DUMMY_HASH:
        _DUMMY_HASH[key] = ph.hash(secrets.token_hex(16))
    return _DUMMY_HASH[key]


def check_throttle(session: Session, settings: ServerSettings, keys: list[tuple[str, int]]) -> None:
    """Refuse (429) while any key has used up its failures in the current window."""
    window = timedelta(seconds=settings.login_window_s)
    for key, limit in keys:
        row = session.get(LoginThrottle, key)
        if row is None:
            continue
        started = _aware(row.window_start)
        if now() - started >= window:
            continue
        if row.failures >= limit:
            wait = int((started + window - now()).total_seconds()) + 1
            raise ApiError(
                429,
                "throttled",
                f"Too many failed sign-ins; try again in {_minutes(wait)}.",
                headers={"Retry-After": str(wait)},
            )


def record_failure(session: Session, settings: ServerSettings, keys: list[str]) -> None:
    window = timedelta(seconds=settings.login_window_s)
    for key in keys:
        row = session.get(LoginThrottle, key, with_for_update=True)
        if row is None:
            session.add(LoginThrottle(key=key, failures=1, window_start=now()))
        elif now() - _aware(row.window_start) >= window:
            row.failures, row.window_start = 1, now()
        else:
            row.failures += 1
        session.flush()


def login(
    db,
    settings: ServerSettings,
    name: str,
    password: str,
    device_id: str,
    device_name: str,
    client_ip: str,
) -> tuple[str, Device, User]:
    """Verify the password and give the device a new token (replacing its previous one)."""
    device_id = canonical_uuid(device_id)
    valid = bool(USER_NAME.match(name))  # anything else cannot be a user; it is never looked up or stored
    user_key, ip_key = f"user:{name.lower() if valid else '(invalid)'}", f"ip:{client_ip}"[:200]
    with db.session() as session:
        check_throttle(
            session,
            settings,
            [(user_key, settings.login_max_failures), (ip_key, settings.login_ip_max_failures)],
        )
        user = session.scalar(select(User).where(User.name == name)) if valid else None
    ph = hasher(settings)
    try:
        # an unknown user costs the same time as a wrong password: names cannot be probed
        ph.verify(user.password_hash if user else _dummy_hash(ph), password)
        ok = user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        with db.session() as session:
            record_failure(session, settings, [user_key, ip_key])
        raise ApiError(401, "wrong_login", WRONG_LOGIN)
    token = secrets.token_urlsafe(32)
    with db.session() as session:
        session.execute(delete(LoginThrottle).where(LoginThrottle.key == user_key))
        device = session.get(Device, (user.id, device_id), with_for_update=True)
        if device is None:
            device = Device(user_id=user.id, id=device_id, created_at=now(), last_op_id=0)
            session.add(device)
        device.name = device_name
        device.token_hash = token_hash(token)
        device.revoked_at = None
        device.last_seen_at = now()
        if ph.check_needs_rehash(user.password_hash):
            session.get(User, user.id).password_hash = ph.hash(password)
    return token, device, user


def authenticate(session: Session, token: str | None) -> Principal:
    """The device a bearer token belongs to, or 401 with a sentence saying why."""
    if not token:
        raise ApiError(401, "no_token", "Sign in first: this request carries no sync token.")
    row = session.execute(
        select(Device, User.name)
        .join(User, User.id == Device.user_id)
        .where(Device.token_hash == token_hash(token))
    ).first()
    if row is None or row[0].revoked_at is not None:
        raise ApiError(
            401, "bad_token", "This device's sign-in is no longer valid (revoked or replaced); sign in again."
        )
    device, user_name = row
    if device.last_seen_at is None or now() - _aware(device.last_seen_at) > timedelta(minutes=1):
        session.execute(
            update(Device)
            .where(Device.user_id == device.user_id, Device.id == device.id)
            .values(last_seen_at=now())
        )
    return Principal(device.user_id, user_name, device.id)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite returns naive datetimes


def _minutes(seconds: int) -> str:
    return f"{seconds} seconds" if seconds < 120 else f"{seconds // 60} minutes"
