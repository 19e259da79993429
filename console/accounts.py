"""Console accounts: add, list, change role, disable, reset password, check a sign-in (argon2 hashes).

The accounts live in the workspace database (``console_users``). Passwords are at least 12
characters and stored only as argon2id hashes. Every change is recorded in the audit trail
(``events``) under the name of whoever made it. ``pipeline users …`` and the console's /users page
both call these functions.
"""
from __future__ import annotations

import re
import secrets
import sqlite3
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from consent.database import migrate, now_iso, transaction
from consent.register import record_event
from console.schema import MIGRATIONS
from pipeline.intake.uploads import folder_name

ROLES = ("admin", "safeguarding", "office", "comms", "staff")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(24))  # verified against for unknown names (same cost)


class AccountError(Exception):
    """A request about an account that cannot be carried out; the message says what to do."""

    exit_code = 2


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    disabled: bool
    created_at: str

    def to_json(self) -> dict:
        return {"name": self.name, "role": self.role, "disabled": self.disabled, "created_at": self.created_at}


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create or update the console tables in the workspace database."""
    migrate(conn, "console", MIGRATIONS)


def _account(row) -> Account:
    return Account(row["id"], row["name"], row["role"], row["disabled_at"] is not None, row["created_at"])


def check_role(role: str) -> str:
    role = (role or "").strip().lower()
    if role not in ROLES:
        raise AccountError(f"'{role}' is not a role; use one of: {', '.join(ROLES)}.")
    return role


def check_password(password: str) -> str:
    if password is None or len(password) < MIN_PASSWORD:
        raise AccountError(f"The password must have at least {MIN_PASSWORD} characters; choose a longer one.")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"The password is longer than {MAX_PASSWORD} characters; choose a shorter one.")
    return password


# The role that sees children's un-redacted faces and reference photos. From the console (an admin on
# /users) no account gets it, loses it or has its password set: otherwise an admin could give it to
# an account of their own and see what the role table keeps from them. Those changes are made on the
# server with 'pipeline users ...' (``from_console=False``), by whoever runs it.
FACES_ROLE = "safeguarding"


def _on_the_server(what: str, command: str) -> AccountError:
    return AccountError(f"{what} is done on the server, not in the console, so that nobody can give "
                        f"themselves sight of children's faces: '{command}'.")


def add_user(conn, name: str, role: str, password: str, *, actor: str, from_console: bool = False) -> Account:
    """Create an account. Raises AccountError for a bad name, role, short password or a name in use
    (and, ``from_console``, for a safeguarding account: see FACES_ROLE)."""
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise AccountError(f"'{name}' cannot be an account name: use letters, digits, '.', '_', '-' or '@' "
                           "(up to 64), starting with a letter or digit, e.g. j.smith.")
    role = check_role(role)
    if from_console and role == FACES_ROLE:
        raise _on_the_server("Adding a safeguarding account",
                             f"pipeline users add {name} --role {FACES_ROLE} --password-stdin")
    digest = _hasher.hash(check_password(password))
    ensure_schema(conn)
    at = now_iso()
    with transaction(conn):
        if conn.execute("SELECT 1 FROM console_users WHERE name=?", (name,)).fetchone():
            raise AccountError(f"There is already an account called '{name}'; choose another name "
                               "(or 'pipeline users reset-password' to change its password).")
        folder = folder_name(name).lower()  # (lower: folders on a Windows or Mac share ignore case)
        for (other,) in conn.execute("SELECT name FROM console_users"):
            if folder_name(other).lower() == folder:
                raise AccountError(f"'{name}' is too like the account '{other}': their uploads would share "
                                   "one folder. Choose a more different name.")
        conn.execute("INSERT INTO console_users(name, role, password_hash, created_at, updated_at) "
                     "VALUES (?,?,?,?,?)", (name, role, digest, at, at))
        record_event(conn, "users.add", actor, None, {"user": name, "role": role}, at=at)
    return get_user(conn, name)


def get_user(conn, name: str) -> Account:
    ensure_schema(conn)
    row = conn.execute("SELECT * FROM console_users WHERE name=?", ((name or "").strip(),)).fetchone()
    if row is None:
        raise AccountError(f"There is no account called '{name}'; 'pipeline users list' shows them.")
    return _account(row)


def user_by_id(conn, user_id: int) -> Account | None:
    row = conn.execute("SELECT * FROM console_users WHERE id=?", (user_id,)).fetchone()
    return None if row is None else _account(row)


def list_users(conn) -> list[Account]:
    ensure_schema(conn)
    return [_account(r) for r in conn.execute("SELECT * FROM console_users ORDER BY name")]


def set_role(conn, name: str, role: str, *, actor: str, from_console: bool = False) -> Account:
    """Change an account's role; its open sessions end (it signs in again with the new rights).
    From the console nobody changes their own role, nor gives or takes the safeguarding role."""
    user = get_user(conn, name)
    role = check_role(role)
    if from_console and user.name.lower() == (actor or "").lower() and role != user.role:
        raise AccountError("You cannot change your own role; another administrator can.")
    if from_console and FACES_ROLE in (role, user.role) and role != user.role:
        raise _on_the_server("Giving or taking the safeguarding role", f"pipeline users set-role {user.name} {role}")
    at = now_iso()
    with transaction(conn):
        conn.execute("UPDATE console_users SET role=?, updated_at=? WHERE id=?", (role, at, user.id))
        conn.execute("DELETE FROM console_sessions WHERE user_id=?", (user.id,))
        record_event(conn, "users.set_role", actor, None, {"user": user.name, "from": user.role, "to": role}, at=at)
    return get_user(conn, name)


def disable_user(conn, name: str, *, actor: str) -> Account:
    """Disable an account: it can no longer sign in and its open sessions end at once."""
    user = get_user(conn, name)
    at = now_iso()
    with transaction(conn):
        conn.execute("UPDATE console_users SET disabled_at=COALESCE(disabled_at, ?), updated_at=? WHERE id=?",
                     (at, at, user.id))
        conn.execute("DELETE FROM console_sessions WHERE user_id=?", (user.id,))
        record_event(conn, "users.disable", actor, None, {"user": user.name}, at=at)
    return get_user(conn, name)


def enable_user(conn, name: str, *, actor: str) -> Account:
    """Let a disabled account sign in again (with its password as it was)."""
    user = get_user(conn, name)
    at = now_iso()
    with transaction(conn):
        conn.execute("UPDATE console_users SET disabled_at=NULL, updated_at=? WHERE id=?", (at, user.id))
        conn.execute("DELETE FROM console_login_failures WHERE account=?", (user.name.lower(),))
        record_event(conn, "users.enable", actor, None, {"user": user.name}, at=at)
    return get_user(conn, name)


def reset_password(conn, name: str, password: str, *, actor: str, from_console: bool = False) -> Account:
    """Give an account a new password; its open sessions end; its lock is lifted. A disabled account
    stays disabled (``enable_user``). From the console a safeguarding account's password is not set."""
    user = get_user(conn, name)
    if from_console and user.role == FACES_ROLE:
        raise _on_the_server("Setting a safeguarding account's password",
                             f"pipeline users reset-password {user.name} --password-stdin")
    digest = _hasher.hash(check_password(password))
    at = now_iso()
    with transaction(conn):
        conn.execute("UPDATE console_users SET password_hash=?, updated_at=? WHERE id=?",
                     (digest, at, user.id))
        conn.execute("DELETE FROM console_sessions WHERE user_id=?", (user.id,))
        conn.execute("DELETE FROM console_login_failures WHERE account=?", (user.name.lower(),))
        record_event(conn, "users.reset_password", actor, None, {"user": user.name}, at=at)
    return get_user(conn, name)


def verify_password(conn, name: str, password: str) -> Account | None:
    """The enabled account ``name`` if ``password`` is its password, else None (same cost either way)."""
    ensure_schema(conn)
    row = conn.execute("SELECT * FROM console_users WHERE name=?", ((name or "").strip(),)).fetchone()
    digest = row["password_hash"] if row is not None else _DUMMY_HASH
    try:
        ok = _hasher.verify(digest, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None or row["disabled_at"] is not None:
        return None
    if _hasher.check_needs_rehash(digest):
        with transaction(conn):
            conn.execute("UPDATE console_users SET password_hash=? WHERE id=?", (_hasher.hash(password), row["id"]))
    return _account(row)


__all__ = ["ROLES", "MIN_PASSWORD", "Account", "AccountError", "ensure_schema", "add_user", "get_user",
           "user_by_id", "list_users", "set_role", "disable_user", "reset_password", "verify_password"]
