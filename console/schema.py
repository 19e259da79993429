"""Console tables (accounts, sign-in sessions, failed sign-ins, settings). Append migrations; never edit one."""

MIGRATIONS = [
    """
    CREATE TABLE console_users (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role          TEXT NOT NULL CHECK (role IN ('admin','safeguarding','office','comms','staff')),
        password_hash TEXT NOT NULL,      -- argon2id (argon2-cffi)
        disabled_at   TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    CREATE TABLE console_sessions (
        id_hash    TEXT PRIMARY KEY,      -- sha256 of the random session id kept in the cookie
        user_id    INTEGER NOT NULL REFERENCES console_users(id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        last_seen  REAL NOT NULL,         -- unix time of the last request (idle timeout)
        client     TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX console_sessions_user ON console_sessions(user_id);
    CREATE TABLE console_login_failures (
        id      INTEGER PRIMARY KEY,
        account TEXT NOT NULL,            -- the name as typed (lower case), known or not
        client  TEXT NOT NULL,            -- the client address as seen by the server (never a header)
        at      REAL NOT NULL
    );
    CREATE INDEX console_login_failures_account ON console_login_failures(account, at);
    CREATE INDEX console_login_failures_client ON console_login_failures(client, at);
    CREATE TABLE console_settings (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    """,
]
