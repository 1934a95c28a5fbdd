"""Which behaviour-changing fixes of a compose file still let its services start.

The stack is started as written (the baseline), then with every fix. A service that reached its
baseline state before and no longer does points at the fixes: each behaviour-changing rule is then
tried on its own (with the safe fixes), and a rule whose fixes break a service is dropped, with the
log lines that show why. The fixes left are started together once more before they count as proven.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Protocol

from hardener.config import Config
from hardener.model import Tier


@dataclass(frozen=True)
class ServiceState:
    """What one service did within the wait: its state, health and exit code."""

    state: str  # running, exited, restarting, created, missing
    health: str = ""  # healthy, unhealthy, starting, or "" without a healthcheck
    exit_code: int = 0
    restarts: int = 0
    log: str = ""  # the last lines it printed, for a dropped fix's evidence

    @property
    def works(self) -> bool:
        if self.state == "running":
            return self.health in ("", "healthy") and self.restarts == 0
        return self.state == "exited" and self.exit_code == 0  # a one-shot task that succeeded

    def describe(self) -> str:
        if self.state == "running":
            return (
                "running"
                + (f" ({self.health})" if self.health else "")
                + (f", restarted {self.restarts} times" if self.restarts else "")
            )
        if self.state == "exited":
            return f"exited with code {self.exit_code}"
        return self.state


class Runtime(Protocol):
    def start(self, compose_text: str, variables: dict[str, str]) -> dict[str, ServiceState]:
        """Start the stack written in compose_text, observe each service, remove everything again."""
        ...


@dataclass
class Verdict:
    rule: str
    line: int
    description: str
    status: str  # proven, dropped, not proven
    why: str = ""


@dataclass
class ProveReport:
    path: str
    baseline: dict[str, ServiceState] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    fixed_text: str | None = None  # the file with the proven fixes (and every safe one)
    runs: int = 0


def prove_compose(
    text: str,
    path: str,
    config: Config,
    runtime: Runtime,
    *,
    deadline: float | None = None,
    repository=None,
    clock=time.monotonic,
) -> ProveReport:
    from hardener.engine import fix_text

    report = ProveReport(path)
    config = replace(config, unsafe_fixes=True)
    proposed = fix_text(text, path, config, repository=repository)
    changing = [a for a in proposed.applied if a.tier is Tier.BEHAVIOUR_CHANGING]
    if not changing:
        report.fixed_text = proposed.fixed
        return report

    def verdicts(status: str, why: str, rules=None) -> None:
        for applied in changing:
            if rules is None or applied.rule in rules:
                report.verdicts.append(Verdict(applied.rule, applied.line, applied.description, status, why))

    def out_of_time() -> bool:
        return deadline is not None and clock() > deadline

    def run(candidate: str, variables: tuple[str, ...]) -> dict[str, ServiceState]:
        report.runs += 1
        return runtime.start(candidate, _throwaway_values(variables))

    report.baseline = baseline = run(text, ())
    working = [name for name, state in baseline.items() if state.works]
    if not working:
        states = ", ".join(f"{n} {s.describe()}" for n, s in baseline.items()) or "no service started"
        verdicts("not proven", f"the stack does not start as written ({states})")
        return report

    def broken_by(candidate) -> list[tuple[str, ServiceState]]:
        variables = tuple(v for a in candidate.applied for v in a.requires)
        after = run(candidate.fixed, variables)
        return [
            (n, after.get(n, ServiceState("missing")))
            for n in working
            if not after.get(n, ServiceState("missing")).works
        ]

    broken = broken_by(proposed)
    if not broken:
        verdicts("proven", _started(working))
        report.fixed_text = proposed.fixed
        return report

    # Something broke: try each behaviour-changing rule alone, beside the safe fixes.
    rules = list(dict.fromkeys(a.rule for a in changing))
    dropped: dict[str, str] = {}
    for rule in rules:
        if out_of_time():
            verdicts("not proven", "the time limit was reached before this fix was tried", {rule})
            dropped[rule] = ""
            continue
        others = tuple(r for r in rules if r != rule)
        alone = fix_text(text, path, replace(config, ignore=(*config.ignore, *others)), repository=repository)
        failures = broken_by(alone)
        if failures:
            dropped[rule] = "; ".join(_failure(name, state) for name, state in failures)
    kept = [r for r in rules if r not in dropped]
    final = fix_text(text, path, replace(config, ignore=(*config.ignore, *dropped)), repository=repository)
    together = broken_by(final) if kept else []
    for rule, why in dropped.items():
        if why:
            verdicts("dropped", why, {rule})
    if together:
        why = "each works alone, not together: " + "; ".join(_failure(n, s) for n, s in together)
        verdicts("not proven", why, set(kept))
        final = fix_text(text, path, replace(config, ignore=(*config.ignore, *rules)), repository=repository)
    else:
        verdicts("proven", _started(working), set(kept))
    report.fixed_text = final.fixed
    return report


def _started(services: list[str]) -> str:
    return "started before and after the fix, and still working: " + ", ".join(services)


def _failure(name: str, state: ServiceState) -> str:
    excerpt = " | ".join(line.strip() for line in state.log.strip().splitlines()[-3:] if line.strip())
    return f"{name} {state.describe()}" + (f" ({excerpt})" if excerpt else "")


def _throwaway_values(names: tuple[str, ...]) -> dict[str, str]:
    """Values for the variables the fixes require (moved secrets): random, used for this run only."""
    import secrets

    return {name: secrets.token_hex(12) for name in names}
