"""Bus and log throughput, with their baselines measured in the same run.

    python bench/bus.py [--messages 100000] [--requests 2000]

Uses the configured store (embedded PostgreSQL unless AUTOGENESIS_DATABASE_URL
is set). Prints:

- in-process bus messages/s with logging off and on (and rows found in the
  log afterwards: lost = sent - rows);
- the log writer's rows/s beside a raw psycopg COPY of the same rows into the
  same table of the same server (ratio);
- request/response round-trip latency p50/p99 with logging off and on.

Goals (issue 2): >= 20,000 msgs/s with logging on and 0 lost; writer >= 0.5x raw COPY.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import psycopg

from autogenesis.bus import Bus, Message
from autogenesis.store import Run, Store, sql


class Counter:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.seen = 0
        self.done = asyncio.Event()

    async def handle(self, message: Message) -> None:
        self.seen += 1
        if self.seen == self.expected:
            self.done.set()


async def echo(message: Message) -> dict:
    return {"echo": True}


async def bus_throughput(store: Store | None, run_id, n: int) -> float:
    counter = Counter(n)
    async with Bus(store) as bus:
        bus.attach("sink", counter.handle)
        started = time.perf_counter()
        for i in range(n):
            await bus.send(Message.new(run_id=run_id, sender="producer", recipient="sink",
                                       kind="tick", body={"i": i}))
        await counter.done.wait()
        elapsed = time.perf_counter() - started
    return n / elapsed


async def request_latency(store: Store | None, run_id, n: int) -> list[float]:
    samples = []
    async with Bus(store) as bus:
        bus.attach("echo", echo)
        for i in range(n):
            message = Message.new(run_id=run_id, sender="client", recipient="echo", kind="ask",
                                  body={"i": i})
            started = time.perf_counter()
            await bus.request(message, timeout=10)
            samples.append(time.perf_counter() - started)
    return samples


def writer_vs_copy(store: Store, run_id, n: int) -> tuple[float, float]:
    rows = [Message.new(run_id=run_id, sender="a", recipient="b", kind="row", body={"i": i})
            for i in range(n)]
    store.flush()
    started = time.perf_counter()
    for message in rows:
        store.log(message)
    store.flush(120)
    writer_rate = n / (time.perf_counter() - started)

    copies = [Message.new(run_id=run_id, sender="a", recipient="b", kind="row", body={"i": i})
              for i in range(n)]
    with psycopg.connect(store.conninfo) as conn:
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(sql.copy_sql("messages")) as copy:
            for message in copies:
                copy.write_row(message.row())
        conn.commit()
        copy_rate = n / (time.perf_counter() - started)
    return writer_rate, copy_rate


def pct(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args()

    with Store.open() as store:
        run = store.start_run(Run(kind="bench", name="bench-bus"))
        store.flush()
        print(f"store: {store.location}")

        off = asyncio.run(bus_throughput(None, run.id, args.messages))
        before = store.count("messages", run.id)
        on = asyncio.run(bus_throughput(store, run.id, args.messages))
        store.flush()
        rows = store.count("messages", run.id) - before
        print(f"bus, in-process, {args.messages} messages:")
        print(f"  logging off   {off:>10,.0f} msgs/s")
        print(f"  logging on    {on:>10,.0f} msgs/s   ({on / off:.2f}x of off)   "
              f"rows logged {rows:,}  lost {args.messages - rows:,}")

        writer_rate, copy_rate = writer_vs_copy(store, run.id, args.messages)
        print(f"log writer vs raw COPY, {args.messages} message rows:")
        print(f"  raw COPY      {copy_rate:>10,.0f} rows/s")
        ratio = writer_rate / copy_rate
        print(f"  log writer    {writer_rate:>10,.0f} rows/s   ({ratio:.2f}x of COPY)")

        lat_off = asyncio.run(request_latency(None, run.id, args.requests))
        lat_on = asyncio.run(request_latency(store, run.id, args.requests))
        print(f"request/response round trip, {args.requests} sequential requests:")
        print(f"  logging off   p50 {pct(lat_off, 50):7.3f} ms   p99 {pct(lat_off, 99):7.3f} ms")
        print(f"  logging on    p50 {pct(lat_on, 50):7.3f} ms   p99 {pct(lat_on, 99):7.3f} ms")
        store.finish_run(run, "succeeded")


if __name__ == "__main__":
    main()
