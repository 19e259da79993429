"""`pipeline users …` (console accounts) and `pipeline serve` (the staff web console)."""
from __future__ import annotations

import ipaddress
import sys

import click

from pipeline.cli.common import actor_name, json_option, print_json, workspace_option
from pipeline.errors import UserError

ROLE_CHOICE = click.Choice(["admin", "safeguarding", "office", "comms", "staff"], case_sensitive=False)


def _read_password(from_stdin: bool, confirm: bool = True) -> str:
    if from_stdin:
        text = sys.stdin.readline()
        return text.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UserError("Give the password on standard input with --password-stdin "
                        "(no one is at the keyboard to type it).")
    return click.prompt("Password (at least 12 characters)", hide_input=True, confirmation_prompt=confirm)


def _accounts():
    from console import accounts

    return accounts


def _change_account(ws, action: str, *args):
    """``console.accounts.<action>(db, *args, actor=...)``, its refusal shown as a plain error."""
    accounts = _accounts()
    try:
        return getattr(accounts, action)(ws.db, *args, actor=actor_name())
    except accounts.AccountError as exc:
        raise UserError(str(exc)) from None


@click.group()
def users():
    """Console accounts: add, list, set-role, disable, enable, reset-password.

    Safeguarding accounts (they see children's faces) are added, given or relieved of the role, and
    have their password set only here, on the server: the console's administrator cannot."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=ROLE_CHOICE, help="What the account may do on the console.")
@click.option("--password-stdin", "from_stdin", is_flag=True, help="Read the password from standard input.")
@json_option
@workspace_option
def users_add(ws, name, role, from_stdin, as_json):
    """Add an account NAME with a ROLE (admin, safeguarding, office, comms or staff)."""
    user = _change_account(ws, "add_user", name, role.lower(), _read_password(from_stdin))
    if as_json:
        print_json(user.to_json())
    else:
        click.echo(f"Account {user.name} added ({user.role}). They sign in on the console: pipeline serve.")


@users.command("list")
@json_option
@workspace_option
def users_list(ws, as_json):
    """List the accounts with their role and whether they are disabled."""
    found = _accounts().list_users(ws.db)
    if as_json:
        print_json([u.to_json() for u in found])
        return
    if not found:
        click.echo("No accounts yet. Add one with: pipeline users add NAME --role admin --password-stdin")
        return
    for u in found:
        click.echo(f"{u.name:<24} {u.role:<13} {'disabled' if u.disabled else 'active'}")


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=ROLE_CHOICE)
@workspace_option
def users_set_role(ws, name, role):
    """Give account NAME another ROLE (their open sessions end)."""
    user = _change_account(ws, "set_role", name, role.lower())
    click.echo(f"{user.name} is now {user.role}.")


@users.command("disable")
@click.argument("name")
@workspace_option
def users_disable(ws, name):
    """Stop account NAME from signing in (their open sessions end at once)."""
    user = _change_account(ws, "disable_user", name)
    click.echo(f"{user.name} can no longer sign in.")


@users.command("enable")
@click.argument("name")
@workspace_option
def users_enable(ws, name):
    """Let the disabled account NAME sign in again."""
    user = _change_account(ws, "enable_user", name)
    click.echo(f"{user.name} can sign in again.")


@users.command("reset-password")
@click.argument("name")
@click.option("--password-stdin", "from_stdin", is_flag=True, help="Read the new password from standard input.")
@workspace_option
def users_reset_password(ws, name, from_stdin):
    """Give account NAME a new password (this lifts a lock; a disabled account stays disabled: 'users enable')."""
    user = _change_account(ws, "reset_password", name, _read_password(from_stdin))
    click.echo(f"New password set for {user.name}; their open sessions were ended.")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Keep 127.0.0.1 behind a reverse proxy on the same server.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on (0 = any free port).")
@click.option("--tls-cert", type=click.Path(dir_okay=False), default=None, help="TLS certificate (PEM) to serve HTTPS.")
@click.option("--tls-key", type=click.Path(dir_okay=False), default=None, help="Private key (PEM) of --tls-cert.")
@click.option("--trusted-proxy", default=None, metavar="ADDRESS",
              help="Address of your reverse proxy: only from it are X-Forwarded-For/-Proto believed.")
@workspace_option
def serve(ws, host, port, tls_cert, tls_key, trusted_proxy):
    """Run the staff web console (sign-in required; stop with Ctrl+C).

    Add accounts first with 'pipeline users add NAME --role ROLE --password-stdin'.
    """
    from console.accounts import list_users
    from console.server import serve as run

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not tls_cert:
        click.echo(f"WARNING: listening on {host} without TLS: passwords and children's photos would cross the "
                   "network unencrypted. Use --tls-cert/--tls-key or a TLS reverse proxy (see the README).", err=True)
    if not list_users(ws.db):
        click.echo("Note: there are no accounts yet; add one with "
                   "'pipeline users add NAME --role admin --password-stdin'.", err=True)
    root = ws.root
    ws.close()
    run(root, host=host, port=port, tls_cert=tls_cert, tls_key=tls_key, trusted_proxy=trusted_proxy,
        ready=lambda url: click.echo(f"Console: {url}  (Ctrl+C to stop)", nl=True) or sys.stdout.flush())
