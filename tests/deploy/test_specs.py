"""prefect.yaml is consistent with the flows, and ``klines serve`` reads the same schedules."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

from prefect import Flow

from flows.deployments import build_deployments, load_specs, server_env, server_url


def test_prefect_yaml_declares_the_four_deployments() -> None:
    specs = {s.name: s for s in load_specs()}
    assert {n: (s.entrypoint, [c.cron for c in s.schedules]) for n, s in specs.items()} == {
        "ingest-short": ("flows/ingest.py:ingest_klines", ["* * * * *"]),
        "ingest-long": ("flows/ingest.py:ingest_klines", ["1 * * * *"]),
        "ws-liveness": ("flows/liveness.py:ws_liveness", ["*/15 * * * *"]),
        "audit-daily": ("flows/audit.py:audit_klines", ["30 0 * * *"]),
    }
    assert specs["ws-liveness"].parameters == {
        "market": "usdm",  # the network: the worker's KLINES_NETWORK, else mainnet
        "symbols": ["BTCUSDT", "ETHUSDT"],
        "intervals": ["1m"],
        "seconds": 60,
        "mark_price": False,
    }
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


def test_the_liveness_deployment_takes_a_market_a_network_and_the_mark_price() -> None:
    from prefect.utilities.callables import parameter_schema

    from flows.liveness import ws_liveness

    properties = parameter_schema(ws_liveness).properties  # what the UI's run form offers
    assert {"market", "network", "mark_price"} <= set(properties)
    assert properties["mark_price"]["default"] is False
    (spec,) = [s for s in load_specs() if s.name == "ws-liveness"]
    (deployment,), _ = build_deployments([spec])
    assert (deployment.parameters["market"], deployment.parameters["mark_price"]) == ("usdm", False)


def test_a_server_started_for_serve_is_told_its_own_address() -> None:
    env = server_env("127.0.0.1", 4300, {"PREFECT_API_URL": "http://elsewhere:4200/api"})
    assert env["PREFECT_UI_API_URL"] == "http://127.0.0.1:4300/api"  # what /ui-settings answers
    assert (env["PREFECT_SERVER_API_HOST"], env["PREFECT_SERVER_API_PORT"]) == ("127.0.0.1", "4300")
    assert "PREFECT_API_URL" not in env
    assert (
        env["PREFECT_CLI_PROMPT"] == "false" and env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    )


def test_a_users_ui_api_url_and_analytics_choice_are_kept() -> None:
    env = server_env(
        "::1",
        4301,
        {
            "PREFECT_UI_API_URL": "https://prefect.example/api",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "true",
        },
    )
    assert env["PREFECT_UI_API_URL"] == "https://prefect.example/api"
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "true"
    assert server_url("::1", 4301) == "http://[::1]:4301/api"


def test_every_doc_that_prefect_yaml_and_the_readme_point_to_exists() -> None:
    root = Path(__file__).resolve().parents[2]
    for source in ("prefect.yaml", "README.md", "docs/operations.md"):
        for name in set(re.findall(r"docs/[\w-]+\.md", (root / source).read_text())):
            assert (root / name).is_file(), f"{source} points to {name}, which does not exist"
