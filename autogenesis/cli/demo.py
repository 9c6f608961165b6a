"""`autogenesis demo`: a small network of rule-based agents on the bus, logged."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table


def demo(
    subject: str = typer.Argument("local agents, logged conversations",
                                  help="What the demo newsroom writes about."),
) -> None:
    """Run a small agent network on the bus and print its conversation from the log."""
    import asyncio

    from autogenesis.demo import run_demo
    from autogenesis.store import Store

    console = Console()
    with Store.open() as store:
        console.print(f"[dim]log: {store.location}[/]")
        result = asyncio.run(run_demo(store, subject))
        messages = store.messages(result.run_id)
        events = store.events(result.run_id)
    table = Table(title="conversation (read back from PostgreSQL)")
    for name in ("#", "from", "to / topic", "kind", "hop"):
        table.add_column(name, no_wrap=True, min_width=len(name) if len(name) < 4 else None)
    table.add_column("body", no_wrap=True, overflow="ellipsis", max_width=48)
    for i, m in enumerate(messages, start=1):
        table.add_row(str(i), m["sender"], m["recipient"] or f"topic {m['topic']}", m["kind"],
                      str(m["hop"]), str(m["body"]))
    console.print(table)
    for e in events:
        console.print(f"event [bold]{e['kind']}[/] at {e['agent']}: {e['detail']}")
    console.print(f"answer: {result.answer['article']}")
    console.print(f"monitor saw: {'; '.join(result.topic_messages)}")
    console.print(f"loop stopped: {result.loop}")
    console.print(f"run {result.run_id}: {len(messages)} messages and {len(events)} events logged")
