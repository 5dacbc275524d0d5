"""The commands that make sign-in entries, ``flask --app app create-user NAME`` and
``flask --app app create-token NAME [--user USER]``, and the one that ends a user's
sessions, ``flask --app app end-sessions NAME``. Prompts go to standard error, so
standard output holds only what to paste into AUTH_USERS or API_TOKENS."""

from __future__ import annotations

import sys

import click

from ..settings.auth import NAME
from .accounts import MIN_PASSWORD_CHARS, hash_password, new_token, token_digest
from .sessions import SessionStore


def _check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise click.ClickException("NAME may hold letters, digits and . _ @ + - (at most 64)")


def _read_password() -> str:
    """Twice: at a terminal, hidden prompts; when piped, the first two lines of stdin."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    first, second = sys.stdin.readline(), sys.stdin.readline()
    if not second:
        raise click.ClickException("Give the password twice, one line each")
    if first.rstrip("\r\n") != second.rstrip("\r\n"):
        raise click.ClickException("The two passwords differ")
    return first.rstrip("\r\n")


@click.command("create-user")
@click.argument("name")
def create_user(name: str) -> None:
    """Print the AUTH_USERS entry for NAME, with a password read twice."""
    _check_name(name)
    password = _read_password()
    if len(password) < MIN_PASSWORD_CHARS:
        raise click.ClickException(f"A password needs at least {MIN_PASSWORD_CHARS} characters")
    click.echo(f"{name}:{hash_password(password)}")


@click.command("create-token")
@click.argument("name")
@click.option("--user", default=None, help="The user the token acts as (their budget, runs).")
def create_token(name: str, user: str | None) -> None:
    """Print a new API token (shown once), then its API_TOKENS entry (a hash). With
    --user the token is that user (an AUTH_USERS name, or with AUTH=oidc an email):
    it spends their budget and sees what they see; without, it is its own identity."""
    _check_name(name)
    if user is not None:
        _check_name(user)
    token = new_token()
    click.echo(token)
    click.echo(f"{name}:{token_digest(token)}" + (f":{user}" if user else ""))


def end_sessions_command(sessions: SessionStore) -> click.Command:
    """``flask --app app end-sessions NAME``, ending the sessions in ``sessions``."""

    @click.command("end-sessions")
    @click.argument("name")
    def end_sessions(name: str) -> None:
        """End every session of NAME (a user name, or an OpenID account's email): each
        of their browsers is signed out at its next request."""
        ended = sum(sessions.end_all(f"{kind}:{name}") for kind in ("user", "oidc"))
        click.echo(f"Ended {ended} session{'s' if ended != 1 else ''} of {name}.", err=True)

    return end_sessions
