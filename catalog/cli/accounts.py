"""``catalog users`` and ``catalog tokens``: who may use the API and the pages, and their API tokens."""

from __future__ import annotations

import sys

import click

from catalog import users as accounts
from catalog.cli import _echo_json, _open
from catalog.config import Settings
from catalog.errors import NotFound

__all__ = ["COMMANDS", "tokens", "users"]


@click.group()
def users() -> None:
    """Who may use the API and the pages, with which role.

    \b
    Roles, each allowing what the ones above it allow:
      viewer   read (reads need a user unless CATALOG_READ_ACCESS=open)
      steward  also write entities and classifications
      admin    also write typedefs and purge deleted entities
    Requests send a user's name and password as basic auth, or an API
    token (catalog tokens create) as 'Authorization: Bearer TOKEN'.
    """


def _stdin_secret(what: str) -> str:
    """A secret read from standard input, one trailing newline dropped."""
    secret = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    if not secret:
        raise click.UsageError(f"no {what} on standard input")
    return secret


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(accounts.ROLES), required=True,
              help="viewer: read; steward: also entities and classifications; admin: also typedefs.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of prompting for it.")
@click.option("--replace", is_flag=True, help="Set the password and role of an existing user.")
@click.pass_obj
def users_add(settings: Settings, name: str, role: str, password_stdin: bool, replace: bool) -> None:
    """Add user NAME with a role and a password (at least 8 characters).

    The password is asked for twice, hidden, unless --password-stdin reads it
    from standard input: printf '%s' "$PW" | catalog users add ci --role steward
    --password-stdin. Only a password hash is stored; a new store is created.
    """
    accounts.check_name(name)
    password = accounts.check_password(_stdin_secret("password")) if password_stdin else None
    with _open(settings, create=True) as catalog:
        with catalog.session() as session:
            existed = accounts.user_exists(session, name)
            if not replace:
                accounts.check_new_user(session, name)
        if password is None:
            password = accounts.check_password(click.prompt("Password", hide_input=True, confirmation_prompt=True))
        with catalog.write_session() as session, session.begin():
            accounts.add_user(session, name, password, role, replace=replace)
    click.echo(f"{'updated' if existed else 'added'} user {name!r} (role {role})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {name, role, activeTokens}.")
@click.pass_obj
def users_list(settings: Settings, as_json: bool) -> None:
    """List users, their roles and how many active API tokens each has."""
    with _open(settings) as catalog, catalog.session() as session:
        found, active = accounts.list_users(session), accounts.active_tokens(session)
    if as_json:
        _echo_json([{"name": u.name, "role": u.role, "activeTokens": active.get(u.name, 0)} for u in found])
        return
    for u in found:
        click.echo(f"{u.name:<24} {u.role:<8} {active.get(u.name, 0)} active token(s)")
    if not found:
        click.echo("no users yet: add one with `catalog users add NAME --role steward`", err=True)


@click.group()
def tokens() -> None:
    """API tokens: what scripts send as 'Authorization: Bearer TOKEN'.

    A token acts as its user, with the user's role, until it is revoked. Only
    its sha256 digest is stored: 'catalog tokens create' prints the token once.
    """


@tokens.command("create")
@click.argument("name")
@click.option("--label", default="", help="What the token is for; 'tokens revoke --label' uses it.")
@click.pass_obj
def tokens_create(settings: Settings, name: str, label: str) -> None:
    """Create an API token for user NAME and print it, this once.

    Standard output is the token alone, so TOKEN=$(catalog tokens create ci)
    works; the note that it will not be shown again goes to standard error.
    """
    with _open(settings) as catalog, catalog.write_session() as session, session.begin():
        token = accounts.create_token(session, name, label)
    click.echo(token)
    click.echo(f"API token of {name!r}: it will not be shown again, store it now", err=True)


@tokens.command("list")
@click.argument("name", required=False)
@click.pass_obj
def tokens_list(settings: Settings, name: str | None) -> None:
    """List API tokens of NAME or everyone; never the tokens themselves."""
    with _open(settings) as catalog, catalog.session() as session:
        for t in accounts.list_tokens(session, name):
            click.echo(t.describe())


@tokens.command("revoke")
@click.argument("name")
@click.option("--label", default=None, help="Revoke NAME's active tokens with this label.")
@click.option("--all", "revoke_all", is_flag=True, help="Revoke every active token of NAME.")
@click.option("--token-stdin", is_flag=True, help="Revoke the one token read from standard input.")
@click.pass_obj
def tokens_revoke(settings: Settings, name: str, label: str | None, revoke_all: bool, token_stdin: bool) -> None:
    """Revoke API tokens of user NAME: one, by label, or all.

    Pass --token-stdin, --label or --all; exits 2 when nothing matched.
    """
    if [label is not None, revoke_all, token_stdin].count(True) != 1:
        raise click.UsageError("pass exactly one of --label LABEL, --all, --token-stdin")
    token = _stdin_secret("token") if token_stdin else None
    with _open(settings) as catalog, catalog.write_session() as session, session.begin():
        count = (int(accounts.revoke_token(session, token, name)) if token is not None
                 else accounts.revoke_tokens(session, name, label))
    if count == 0:
        raise NotFound(f"no active token{f' labelled {label!r}' if label else ''} of user {name!r} to revoke")
    click.echo(f"revoked {count} token(s) of {name!r}")


COMMANDS = (users, tokens)
