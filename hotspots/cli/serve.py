"""The service and who may use it: ``hotspots serve`` and ``hotspots users add | list | revoke``."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from hotspots.cli._common import DbOption, app, open_store_at, out, print_listing, settings
from hotspots.core.errors import ValidationError
from hotspots.store.audit import local_actor
from hotspots.store.tokens import add_token, list_tokens, revoke_token

#: Seconds an idle kept-alive connection stays open (see ``serve``).
KEEP_ALIVE_S = 75

users_app = typer.Typer(help="API tokens and their roles: commander, analyst, tasking, evaluator, admin.",
                        no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="A post or team, never a person's name (e.g. ladywood-inspector).")],
    role: Annotated[str, typer.Option(help="commander, analyst, tasking, evaluator or admin.")],
    npu: Annotated[list[str] | None, typer.Option("--npu", help="Commanders only: an NPU they may see (repeatable; default all).")] = None,
    db: DbOption = "",
):
    """Make a token; it is printed once and stored only as a hash."""
    token = add_token(open_store_at(db), name, role, npu, actor=local_actor())
    out.print(f"token for {name!r} ({role}{', NPUs ' + ', '.join(npu) if npu else ''}); it will not be shown again:",
              highlight=False, soft_wrap=True)
    out.print(token, highlight=False, soft_wrap=True)


@users_app.command("list")
def list_command(db: DbOption = ""):
    """Tokens made, with their roles; revoked ones show when."""
    print_listing(list_tokens(open_store_at(db)), "API tokens")


@users_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The token's name.")], db: DbOption = ""):
    """Revoke a token at once; its row stays so the audit log's actors stay traceable."""
    revoke_token(open_store_at(db), name, actor=local_actor())
    out.print(f"token {name!r} revoked", highlight=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    docs: Annotated[bool, typer.Option("--docs", help="Serve /openapi.json and /docs without a token (off by default).")] = False,
    db: DbOption = "",
):
    """Run the API under uvicorn on the embedded SQLite store, or on PostgreSQL when configured."""
    import uvicorn

    if not 1 <= port <= 65535:
        raise ValidationError(f"--port={port!r} must be 1 to 65535")
    if workers < 1:
        raise ValidationError(f"--workers={workers!r} must be at least 1")
    url = db or settings().resolved_database_url()
    open_store_at(url).dispose()  # migrate once here, not in every worker at the same moment
    os.environ["HOTSPOTS_DATABASE_URL"] = url  # the workers build their app from the settings
    if docs:
        os.environ["HOTSPOTS_API_DOCS"] = "true"
    from sqlalchemy.engine import make_url

    shown = make_url(url).render_as_string(hide_password=True)
    out.print(f"serving on http://{host}:{port} with {workers} workers, store {shown}", highlight=False)
    # Uvicorn finishes requests in flight (an upload included) on SIGTERM or Ctrl-C before it exits.
    # An idle kept-alive connection is closed after KEEP_ALIVE_S: longer than a proxy's or a client
    # pool's idle timeout (60 s is usual), so they never send a request on a connection the server
    # is closing at that moment: with uvicorn's 5 s default, the likely cause of the one client
    # ReadError the load benchmark saw on PostgreSQL.
    uvicorn.run("api.main:serving_app", factory=True, host=host, port=port, workers=workers,
                timeout_graceful_shutdown=30, timeout_keep_alive=KEEP_ALIVE_S, log_level="info")
