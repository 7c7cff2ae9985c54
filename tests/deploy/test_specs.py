"""prefect.yaml is consistent with the flows, and ``klines serve`` reads the same schedules."""

from __future__ import annotations

import inspect

from flows.deployments import build_deployments, load_specs
from flows.ingest import ingest_klines


def test_prefect_yaml_declares_the_four_deployments() -> None:
    specs = {s.name: s for s in load_specs()}
    assert {n: (s.entrypoint, [c.cron for c in s.schedules]) for n, s in specs.items()} == {
        "ingest-short": ("flows/ingest.py:ingest_klines", ["* * * * *"]),
        "ingest-long": ("flows/ingest.py:ingest_klines", ["1 * * * *"]),
        "ws-liveness": ("flows/liveness.py:liveness_check", ["*/15 * * * *"]),
        "audit-daily": ("flows/audit.py:audit_klines", ["30 0 * * *"]),
    }
    assert set(specs["ws-liveness"].parameters) == {"symbols", "intervals", "seconds"}
    assert set(specs["audit-daily"].parameters) == {"symbols", "intervals", "days"}
    for spec in specs.values():
        assert spec.concurrency_limit == 1 and spec.collision_strategy == "CANCEL_NEW"
        assert all(s.timezone == "UTC" for s in spec.schedules)


def test_ingest_parameters_fit_the_flow() -> None:
    accepted = set(inspect.signature(ingest_klines.fn).parameters)
    for spec in load_specs():
        if spec.module == "flows.ingest":
            assert spec.function == "ingest_klines"
            assert set(spec.parameters) <= accepted


def test_serve_builds_the_same_deployments_and_skips_what_cannot_load() -> None:
    specs = load_specs()
    deployments, skipped = build_deployments(specs)
    by_name = {d.name: d for d in deployments}
    for spec in specs:
        if spec.name in by_name:
            d = by_name[spec.name]
            assert d.entrypoint == spec.entrypoint
            assert d.parameters == spec.parameters
            assert [s.schedule.cron for s in d.schedules] == [c.cron for c in spec.schedules]
            assert d.concurrency_limit == 1
        else:
            assert any(n.startswith(f"{spec.name}: ") for n in skipped)
    assert {"ingest-short", "ingest-long"} <= set(by_name)
