"""prefect.yaml is consistent with the flows, and ``klines serve`` reads the same schedules."""

from __future__ import annotations

import importlib
import inspect

from prefect import Flow

from flows.deployments import build_deployments, load_specs


def test_prefect_yaml_declares_the_four_deployments() -> None:
    specs = {s.name: s for s in load_specs()}
    assert {n: (s.entrypoint, [c.cron for c in s.schedules]) for n, s in specs.items()} == {
        "ingest-short": ("flows/ingest.py:ingest_klines", ["* * * * *"]),
        "ingest-long": ("flows/ingest.py:ingest_klines", ["1 * * * *"]),
        "ws-liveness": ("flows/liveness.py:ws_liveness", ["*/15 * * * *"]),
        "audit-daily": ("flows/audit.py:audit_klines", ["30 0 * * *"]),
    }
    assert set(specs["ws-liveness"].parameters) == {"symbols", "intervals", "seconds"}
    assert set(specs["audit-daily"].parameters) == {"symbols", "intervals", "days"}
    for spec in specs.values():
        assert spec.concurrency_limit == 1 and spec.collision_strategy == "CANCEL_NEW"
        assert all(s.timezone == "UTC" for s in spec.schedules)


def test_every_entrypoint_is_a_flow_that_accepts_its_parameters() -> None:
    for spec in load_specs():
        path, name = spec.entrypoint.split(":")
        flow = getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)
        assert isinstance(flow, Flow), spec.entrypoint
        assert set(spec.parameters) <= set(inspect.signature(flow.fn).parameters), spec.name


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
    assert set(by_name) == {s.name for s in specs} and skipped == []
