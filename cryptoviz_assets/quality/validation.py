"""Validate a DataFrame against a suite with Great Expectations 1.x (imported lazily)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptoviz_assets.quality.suites import FRESHNESS, Expect, Suite


@dataclass(frozen=True)
class Outcome:
    """One expectation's result, in the terms a check's metadata reports."""

    expectation: str
    kwargs: dict[str, Any]
    critical: bool
    success: bool
    observed: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation,
            "critical": self.critical,
            **{k: _plain(v) for k, v in self.kwargs.items() if v is not None},
            **{k: _plain(v) for k, v in self.observed.items()},
        }


def _plain(value: Any) -> Any:
    """JSON-friendly metadata values (timestamps and numpy scalars as text or numbers)."""
    if isinstance(value, list):
        return [_plain(v) for v in value[:10]]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


OBSERVED_KEYS = (
    "observed_value",
    "unexpected_count",
    "unexpected_percent",
    "partial_unexpected_list",
)


def _resolve(expect: Expect, freshness_floor: datetime) -> dict[str, Any]:
    return {k: (freshness_floor if v == FRESHNESS else v) for k, v in expect.kwargs.items()}


def validate(frame: Any, suite: Suite, freshness_floor: datetime) -> list[Outcome]:
    """Run every expectation of `suite` on `frame`; one Outcome per expectation, in order."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    import great_expectations.expectations as gxe

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    expects = suite.all_expectations()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
    batch = (
        context.data_sources.add_pandas(f"cryptoviz_{suite.name}")
        .add_dataframe_asset(suite.name)
        .add_batch_definition_whole_dataframe("whole")
    )
    kwargs = [_resolve(expect, freshness_floor) for expect in expects]
    gx_suite = gx.ExpectationSuite(name=suite.check_name)
    for index, expect in enumerate(expects):
        kind = getattr(gxe, expect.kind)
        gx_suite.add_expectation(kind(**kwargs[index], meta={"index": index}))
    gx_suite = context.suites.add(gx_suite)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.check_name, data=batch, suite=gx_suite)
    )
    result = definition.run(batch_parameters={"dataframe": frame})
    by_index: dict[int, Outcome] = {}
    for item in result.results:
        config = item.expectation_config
        if config is None or not config.meta:
            continue
        index = int(config.meta["index"])
        expect = expects[index]
        observed = {k: item.result[k] for k in OBSERVED_KEYS if k in item.result}
        error = _exception(item.exception_info)
        if error:
            observed["exception"] = error
        by_index[index] = Outcome(
            expect.kind,
            kwargs[index],
            expect.critical,
            bool(item.success),
            observed,
        )
    if len(by_index) != len(expects):  # never silently drop an expectation
        raise RuntimeError(f"{suite.check_name}: {len(by_index)} of {len(expects)} results")
    return [by_index[i] for i in sorted(by_index)]


def _exception(info: Any) -> str | None:
    """GX reports a metric that raised (e.g. a missing column) in exception_info."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message"))[:300]
    nested = [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
    return str(nested[0].get("exception_message"))[:300] if nested else None
