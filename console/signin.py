"""Signing in and out: a throttled password check and server-side sessions with an idle timeout.

* After ``ACCOUNT_FAILURES`` failed sign-ins on one account name within ``LOCK_SECONDS``, that name
  is locked for ``LOCK_SECONDS`` (even the right password is refused meanwhile). Names that have no
  account are counted the same way, so the answer never tells whether an account exists.
* After ``CLIENT_FAILURES`` failures from one client address within ``LOCK_SECONDS``, that address
  is refused for the rest of the window. The address is the one the server saw, never a header.
* A session is a random id in the cookie; the database keeps only its hash, the account and when it
  was last used. Signing out, disabling an account, changing its role or password ends it at once;
  ``idle_seconds`` without a request ends it too.
"""
from __future__ import annotations

import hashlib
import secrets
import time

from flask_login import UserMixin

from consent.database import now_iso, transaction
from consent.register import record_event
from console.accounts import Account, ensure_schema, user_by_id, verify_password

ACCOUNT_FAILURES = 5
CLIENT_FAILURES = 30
LOCK_SECONDS = 15 * 60
FAILED = "The name or password is wrong, or this account is locked for a while. Check them and try again later."


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _key(name: str) -> str:
    return (name or "").strip().lower()[:128]


def locked(conn, name: str, client: str, now: float | None = None) -> bool:
    """True while the account name or the client address is locked out."""
    now = time.time() if now is None else now
    since = now - LOCK_SECONDS
    by_account = conn.execute("SELECT count(*) FROM console_login_failures WHERE account=? AND at>?",
                              (_key(name), since)).fetchone()[0]
    by_client = conn.execute("SELECT count(*) FROM console_login_failures WHERE client=? AND at>?",
                             (client, since)).fetchone()[0]
    return by_account >= ACCOUNT_FAILURES or by_client >= CLIENT_FAILURES


def sign_in(conn, name: str, password: str, *, client: str) -> tuple[Account, str] | None:
    """Check a sign-in; returns (account, session token) or None (then say ``FAILED``, whatever the cause)."""
    ensure_schema(conn)
    now = time.time()
    with transaction(conn):  # forget what no longer counts
        conn.execute("DELETE FROM console_login_failures WHERE at < ?", (now - LOCK_SECONDS,))
        conn.execute("DELETE FROM console_sessions WHERE last_seen < ?", (now - 7 * 24 * 3600,))
    # The attempt is counted before the password is checked, in one transaction with the lock
    # check, so attempts sent in parallel cannot slip past the limit; success removes the count.
    with transaction(conn):
        refused = locked(conn, name, client, now)
        conn.execute("INSERT INTO console_login_failures(account, client, at) VALUES (?,?,?)",
                     ("" if refused else _key(name), client, now))  # a refused try does not extend the lock
    if refused:
        verify_password(conn, name, password)  # the same work as any other answer, then refuse
        with transaction(conn):
            record_event(conn, "console.sign_in_refused", "(not signed in)", None,
                         {"user": _known(conn, name), "client": client, "why": "locked"})
        return None
    account = verify_password(conn, name, password)
    if account is None:
        with transaction(conn):
            record_event(conn, "console.sign_in_failed", "(not signed in)", None,
                         {"user": _known(conn, name), "client": client})
        return None
    token = secrets.token_urlsafe(32)
    with transaction(conn):
        conn.execute("DELETE FROM console_login_failures WHERE account=?", (_key(name),))
        conn.execute("INSERT INTO console_sessions(id_hash, user_id, created_at, last_seen, client) VALUES (?,?,?,?,?)",
                     (_hash(token), account.id, now_iso(), now, client))
        record_event(conn, "console.sign_in", account.name, None, {"client": client, "role": account.role})
    return account, token


def _known(conn, name: str) -> str | None:
    """The account name when it exists (an unknown name may be a mistyped password: not recorded)."""
    row = conn.execute("SELECT name FROM console_users WHERE name=?", ((name or "").strip(),)).fetchone()
    return row[0] if row else None


def session_account(conn, token: str | None, *, idle_seconds: float) -> Account | None:
    """The enabled account of a live session, or None (no, unknown, ended or idle session)."""
    if not token or not isinstance(token, str):
        return None
    now = time.time()
    row = conn.execute("SELECT user_id, last_seen FROM console_sessions WHERE id_hash=?", (_hash(token),)).fetchone()
    if row is None:
        return None
    if now - row["last_seen"] > idle_seconds:
        with transaction(conn):
            conn.execute("DELETE FROM console_sessions WHERE id_hash=?", (_hash(token),))
        return None
    account = user_by_id(conn, row["user_id"])
    if account is None or account.disabled:
        return None
    if now - row["last_seen"] > 5:
        with transaction(conn):
            conn.execute("UPDATE console_sessions SET last_seen=? WHERE id_hash=?", (now, _hash(token)))
    return account


def sign_out(conn, token: str | None, actor: str | None = None) -> None:
    """End a session (nothing happens for an unknown one)."""
    if not token:
        return
    with transaction(conn):
        cur = conn.execute("DELETE FROM console_sessions WHERE id_hash=?", (_hash(str(token)),))
        if cur.rowcount and actor:
            record_event(conn, "console.sign_out", actor, None, {})


def secret_key(conn) -> bytes:
    """The key that signs the console's cookies: made once per workspace, kept in its (private) database."""
    ensure_schema(conn)
    with transaction(conn):
        row = conn.execute("SELECT value FROM console_settings WHERE key='secret_key'").fetchone()
        if row is None:
            key = secrets.token_bytes(32)
            conn.execute("INSERT INTO console_settings(key, value) VALUES ('secret_key', ?)", (key,))
            return key
        return bytes(row[0])


class SignedIn(UserMixin):
    """The signed-in person for Flask-Login: their account and their session token (the login id)."""

    def __init__(self, account, token: str):
        self.account, self.token = account, token
        self.name, self.role = account.name, account.role

    def get_id(self) -> str:
        return self.token


__all__ = ["SignedIn", "ACCOUNT_FAILURES", "CLIENT_FAILURES", "LOCK_SECONDS", "FAILED", "locked", "sign_in",
           "session_account", "sign_out", "secret_key"]
