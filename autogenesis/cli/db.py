"""`autogenesis db`: the schema and the server behind the log."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(help="Inspect and upgrade the PostgreSQL log.", no_args_is_help=True,
                  rich_markup_mode=None)
console = Console(soft_wrap=True)  # paths and URLs stay on one line


@app.command()
def upgrade() -> None:
    """Apply pending schema migrations (also done automatically on first use)."""
    from autogenesis.store import Store

    with Store.open(migrate=False) as store:
        applied = store.upgrade()
        if applied:
            for migration in applied:
                console.print(f"applied {migration.version:04d}_{migration.name}")
        else:
            console.print("schema is up to date")


@app.command()
def status() -> None:
    """Show which server is used, its version, and the schema's migrations."""
    from autogenesis.store import Store

    with Store.open(migrate=False) as store:
        info = store.info()
    console.print(f"server     {info.location}")
    console.print(f"postgres   {info.version}")
    for version, name, applied_at in info.applied:
        console.print(f"migration  {version:04d}_{name}  applied {applied_at:%Y-%m-%d %H:%M:%S %Z}")
    for name in info.pending:
        console.print(f"migration  {name}  [yellow]pending[/] (run `autogenesis db upgrade`)")
    spool = f"{info.spooled_files} file(s) waiting" if info.spooled_files else "empty"
    console.print(f"spool      {spool}")
