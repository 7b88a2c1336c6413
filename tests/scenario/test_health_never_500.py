"""Every health endpoint answers 200 or 503 with a reason, never 500 (issue 22, item 4): the
readiness check itself fails (here a probe whose store raises, as an unforeseen bug would), and
the log has one line when it starts failing and one when it works again, not a traceback per
request. The database-down case runs against the real `run` and PostgreSQL in
tests/contract/test_run_database_outage.py."""
from __future__ import annotations

import asyncio
import logging

import aiohttp

from bot.ops.health import HealthConfig, HealthServer
from bot.ops.metrics import Metrics


class Probe:
    """Readiness that fails with an unexpected error until `works` is set."""

    def __init__(self) -> None:
        self.works = False

    def __call__(self):
        if not self.works:
            raise KeyError("outbox row without 'created'")
        return True, {"ready": True, "reasons": []}


async def fetch(port: int, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}{path}") as response:
            return response.status, response.headers.get("Content-Type", ""), await response.text()


def test_a_failing_readiness_check_is_503_with_a_reason_and_two_log_lines(caplog):
    caplog.set_level(logging.INFO)
    probe = Probe()
    server = HealthServer(HealthConfig("127.0.0.1", 0), Metrics(), probe)

    async def main():
        await server.start()
        try:
            down = [await fetch(server.port, path) for path in ("/readyz", "/metrics") * 5]
            healthz = await fetch(server.port, "/healthz")
            probe.works = True
            up = await fetch(server.port, "/readyz")
        finally:
            await server.stop()
        return down, healthz, up

    down, healthz, up = asyncio.run(main())
    readyz = [answer for n, answer in enumerate(down) if n % 2 == 0]
    metrics = [answer for n, answer in enumerate(down) if n % 2 == 1]
    assert {a[0] for a in readyz} == {503}
    assert all(a[1].startswith("application/json") and "KeyError" in a[2]
               and "\"ready\": false" in a[2]
               for a in readyz)
    assert {a[0] for a in metrics} == {200}
    assert healthz[0] == 200 and up[0] == 200
    lines = [r for r in caplog.records if r.name == "bot.ops.health"
             and "beredskapen" in r.getMessage()]
    assert [r.levelno for r in lines] == [logging.WARNING, logging.INFO], [r.getMessage() for r in lines]
    assert not [r for r in caplog.records if r.exc_info]
