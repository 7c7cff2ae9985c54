"""Every exception class of the project pickles with its message and attributes (the Dask
task runner sends errors between processes), and every error of the three trees is typed
retryable or terminal.

The classes are found, not listed: every module of the project's packages is imported and
``BaseException``'s subclasses are walked, so a class added tomorrow is checked too. An
instance is built from the constructor's annotated parameters.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
import tomllib
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exchange.errors import (
    ArchiveCorrupt,
    ArchiveRefused,
    KlinesError,
    NetworkError,
    Retryable,
    Terminal,
    is_retryable,
)
from warehouse.errors import NotAWarehouse, WarehouseLocked

ROOT = Path(__file__).resolve().parents[1]
# Every package the project installs (pyproject.toml), so a new one is walked too.
PACKAGES = tuple(
    tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
)
# The roots and the branches that only group errors; every other error is typed.
GROUPS = {"KlinesError", "ExchangeError", "WarehouseError", "StreamError", "ArchiveError"}


def project_modules() -> Iterator[types.ModuleType]:
    for name in PACKAGES:
        package = importlib.import_module(name)
        yield package
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            if info.name.endswith(".__main__"):  # runs the command when imported
                continue
            yield importlib.import_module(info.name)


def subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)


def project_exceptions() -> list[type[BaseException]]:
    for _ in project_modules():
        pass
    found = {c for c in subclasses(BaseException) if c.__module__.split(".")[0] in PACKAGES}
    return sorted(found, key=name)


def name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


EXCEPTIONS = project_exceptions()


def sample(cls: type, parameter: inspect.Parameter, hint: Any, n: int) -> Any:
    """A value of the parameter's annotated type, different for every parameter."""
    options = [t for t in typing.get_args(hint) if t is not type(None)]
    kind = typing.get_origin(hint)
    if kind in (typing.Union, types.UnionType):
        hint = options[0]
        kind = typing.get_origin(hint)
    kind = kind or hint
    if kind is str:
        return f"{parameter.name} {n}"
    if kind is bool:
        return True
    if kind is int:
        return 1_767_225_600_000 + n  # an epoch-ms instant, as the ban's end is
    if kind is float:
        return 2.5 + n
    if kind is bytes:
        return b"raw bytes"
    if kind is dict:
        return {"status": "failed", "series": [{"symbol": "BTCUSDT", "rejected": n}]}
    if kind is list:
        return [f"item {n}"]
    pytest.fail(f"{name(cls)}: no sample for parameter {parameter.name}: {hint!r}; add one")


def instance(cls: type[BaseException]) -> BaseException:
    """``cls`` built with a value for every parameter its constructor declares."""
    init = cls.__init__
    if not inspect.isfunction(init):  # the built-in constructor: a message
        return cls(f"{cls.__name__} message")
    hints = typing.get_type_hints(init)
    args, kwargs = [], {}
    for n, parameter in enumerate(list(inspect.signature(init).parameters.values())[1:]):
        value = sample(cls, parameter, hints.get(parameter.name, str), n)
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = value
        elif parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            args.append(value)
    return cls(*args, **kwargs)


def assert_round_trips(exc: BaseException) -> None:
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is type(exc)
    assert str(copy) == str(exc) and copy.args == exc.args
    assert vars(copy) == vars(exc)


def test_every_exception_class_of_the_project_is_found() -> None:
    names = {cls.__qualname__ for cls in EXCEPTIONS}
    assert {"IpBanned", "_ConnectFailed", "WarehouseLocked", "IngestIncomplete"} <= names
    assert {"BadRequest", "PrefectApiUnavailable", "UnsupportedSetting"} <= names
    assert len(EXCEPTIONS) >= 36


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=name)
def test_every_exception_pickles_with_its_message_and_attributes(
    cls: type[BaseException],
) -> None:
    assert_round_trips(instance(cls))


class _TakesTwoArguments(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"code {code}: {msg}")
        self.code = code


class _ForgetsItsCode(Exception):
    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self.args)


def test_the_check_fails_for_an_exception_that_does_not_pickle_whole() -> None:
    with pytest.raises(TypeError):  # unpickling calls the constructor with the message only
        assert_round_trips(instance(_TakesTwoArguments))
    with pytest.raises(AssertionError):
        assert_round_trips(instance(_ForgetsItsCode))


@pytest.mark.parametrize("cls", [c for c in EXCEPTIONS if issubclass(c, KlinesError)], ids=name)
def test_every_error_is_retryable_or_terminal_unless_it_only_groups_others(
    cls: type[BaseException],
) -> None:
    kinds = issubclass(cls, Retryable), issubclass(cls, Terminal)
    if cls.__name__ in GROUPS:
        assert kinds == (False, False)
    else:
        assert sum(kinds) == 1, f"{name(cls)} is {'both' if all(kinds) else 'neither'}"


def test_retries_are_decided_by_type() -> None:
    assert is_retryable(NetworkError("dropped", "dropped"))
    assert is_retryable(ArchiveCorrupt("bad zip", "x.zip"))
    assert is_retryable(WarehouseLocked("locked"))
    assert not is_retryable(ArchiveRefused("HTTP 400", "x.zip"))
    assert not is_retryable(NotAWarehouse("not duckdb"))
    assert not is_retryable(ValueError("a bug"))
