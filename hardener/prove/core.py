"""Which behaviour-changing fixes of a compose file still let its services start.

The stack is started as written (the baseline), then with every fix. A service that reached its
baseline state before and no longer does points at the fixes: each behaviour-changing rule is then
tried on its own (with the safe fixes), and a rule whose fixes break a service is dropped, with the
log lines that show why. The fixes left are started together once more before they count as proven.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from typing import Protocol

from hardener.config import Config
from hardener.measured import Measurement
from hardener.model import Tier


@dataclass(frozen=True)
class ServiceState:
    """What one service did within the wait: its state, health and exit code."""

    state: str  # running, exited, restarting, created, missing
    health: str = ""  # healthy, unhealthy, starting, or "" without a healthcheck
    exit_code: int = 0
    restarts: int = 0
    log: str = ""  # the last lines it printed, for a dropped fix's evidence
    measured: Measurement | None = None  # uid, peak memory and pids, paths written
    # Each TCP port the container exposes, and what a connection to it got: "answers" (bytes came
    # back), "closes" (accepted, then closed), "silent" (accepted, nothing within the wait), "refused".
    ports: tuple[tuple[int, str], ...] = ()

    def lost_ports(self, baseline: ServiceState) -> list[str]:
        """The ports that behaved differently than in the baseline, described: a master process
        that lives on after its workers failed still runs, but its port no longer answers."""
        now = dict(self.ports)
        return [
            f"port {port} {_PORT_OUTCOMES.get(now.get(port, 'refused'), 'refuses connections')} "
            f"(it {_PORT_OUTCOMES_PAST[before]} before)"
            for port, before in baseline.ports
            if before != "refused" and now.get(port, "refused") != before
        ]

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


_PORT_OUTCOMES = {
    "answers": "answers",
    "closes": "closes connections at once",
    "silent": "accepts connections but does not answer",
    "refused": "refuses connections",
}
_PORT_OUTCOMES_PAST = {"answers": "answered", "closes": "closed them", "silent": "accepted them"}


class Runtime(Protocol):
    def start(
        self, compose_text: str, variables: dict[str, str], dockerfile: str | None = None, measure: bool = True
    ) -> dict[str, ServiceState]:
        """Start the stack written in compose_text, observe each service, remove everything again.
        `dockerfile`: the text of the Dockerfile that ${HARDENER_PROVE_DOCKERFILE} names; `measure`:
        also what each service used and wrote (the baseline's; later runs only compare states)."""
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
    # The fixes proven and dropped, as fix_text gave them for fixed_text (for `fix --prove`'s report).
    result: object = None
    # For `fix --prove`: what the fixes read (Config.measured: measurements, capability sets found,
    # fixes declined per service), the rules dropped for every service, and the rules left unproven.
    measured: tuple = ()
    dropped_rules: tuple[str, ...] = ()
    unproven_rules: tuple[str, ...] = ()

    def config_for_fix(self, config: Config) -> Config:
        """The settings `fix --prove` fixes this file with: proven fixes, the unproven ones only when
        `unproven = "apply"`, never a dropped one."""
        ignore = (*self.dropped_rules, *(self.unproven_rules if config.unproven != "apply" else ()))
        return replace(config, measured=self.measured, ignore=(*config.ignore, *ignore))


# Where the candidate Dockerfile lies, for the compose file that builds and starts one image.
DOCKERFILE_VARIABLE = "HARDENER_PROVE_DOCKERFILE"


def dockerfile_stack(context: str, target: str | None = None) -> str:
    """A compose file that builds the Dockerfile named by ${HARDENER_PROVE_DOCKERFILE} in `context`
    and starts the image with its default command."""
    import json

    lines = [
        "services:",
        "  image:",
        "    build:",
        f"      context: {json.dumps(context)}",
        f"      dockerfile: ${{{DOCKERFILE_VARIABLE}}}",
    ]
    if target:
        lines.append(f"      target: {json.dumps(target)}")
    return "\n".join(lines) + "\n"


def prove_compose(
    text: str,
    path: str,
    config: Config,
    runtime: Runtime,
    *,
    deadline: float | None = None,
    repository=None,
    clock=time.monotonic,
    minimise_capabilities: bool = False,
    repository_path: str | None = None,
) -> ProveReport:
    """Start the stack as written, learn from it, start it with the fixes, keep the fixes that work."""
    prover = _Prover(text, path, config, runtime, deadline, repository, clock, minimise_capabilities, repository_path)
    return prover.prove()


def prove_dockerfile(
    text: str,
    path: str,
    config: Config,
    runtime: Runtime,
    context: str,
    *,
    deadline: float | None = None,
    repository=None,
    clock=time.monotonic,
    repository_path: str | None = None,
) -> ProveReport:
    """Build the Dockerfile as written and fixed, start each image with its default command, compare."""
    prover = _Prover(text, path, config, runtime, deadline, repository, clock, False, repository_path)
    prover.stack = dockerfile_stack(context)
    return prover.prove()


class _Prover:
    def __init__(
        self, text, path, config, runtime, deadline, repository, clock, minimise_capabilities, repository_path=None
    ):
        self.text = text
        self.repository_path = repository_path
        self.secret_values = _secret_values(text)
        self.path = path
        self.config = replace(config, unsafe_fixes=True)
        self.runtime = runtime
        self.deadline = deadline
        self.repository = repository
        self.clock = clock
        self.minimise = minimise_capabilities
        self.stack: str | None = None  # set for a Dockerfile: the compose file that builds and starts it
        self.inherited: set[str] = set()  # services given the capabilities of the image they are built FROM
        self.report = ProveReport(path)

    # -- helpers

    def fix(self, config: Config, ignore: tuple[str, ...] = ()):
        from hardener.engine import fix_text

        return fix_text(
            self.text,
            self.path,
            replace(config, ignore=(*config.ignore, *ignore)),
            repository=self.repository,
            repository_path=self.repository_path,
        )

    def out_of_time(self) -> bool:
        return self.deadline is not None and self.clock() > self.deadline

    def run(self, candidate: str, variables: tuple[str, ...] = (), measure: bool = False) -> dict[str, ServiceState]:
        self.report.runs += 1
        values = _throwaway_values(variables)
        if self.stack is not None:  # a Dockerfile: the candidate is built by the one-service stack
            return self.runtime.start(self.stack, values, dockerfile=candidate, measure=measure)
        return self.runtime.start(candidate, values, measure=measure)

    def broken_by(self, candidate, working: list[str]) -> list[tuple[str, str]]:
        """The services of `working` that no longer work with the candidate's fixes, with what they did."""
        variables = tuple(v for a in candidate.applied for v in a.requires)
        after = self.run(candidate.fixed, variables)
        broken = []
        for name in working:
            state = after.get(name, ServiceState("missing"))
            lost = state.lost_ports(self.report.baseline[name]) if state.works else []
            if not state.works or lost:
                broken.append((name, self.redact(_failure(name, state, lost))))
        return broken

    def redact(self, text: str) -> str:
        """Log excerpts go into reports and pull requests: the file's own secret values never do."""
        for value in self.secret_values:
            text = text.replace(value, "***")
        return text

    def verdict(self, changing, status: str, why: str, rules=None) -> None:
        for applied in changing:
            if rules is None or applied.rule in rules:
                self.report.verdicts.append(Verdict(applied.rule, applied.line, applied.description, status, why))

    # -- the run

    def prove(self) -> ProveReport:
        report = self._prove()
        statuses: dict[str, set[str]] = {}
        for verdict in report.verdicts:
            statuses.setdefault(verdict.rule, set()).add(verdict.status)
        report.dropped_rules = tuple(r for r, s in statuses.items() if s == {"dropped"})
        report.unproven_rules = tuple(r for r, s in statuses.items() if "not proven" in s)
        return report

    def _prove(self) -> ProveReport:
        report = self.report
        first = self.fix(self.config)
        if not _behaviour_changing(first):
            report.fixed_text, report.result = first.fixed, first
            return report
        report.baseline = baseline = self.run(self.text, measure=True)
        working = [name for name, state in baseline.items() if state.works]
        if not working:
            states = ", ".join(self.redact(_failure(n, s, [])) for n, s in baseline.items()) or "no service started"
            why = f"the stack does not start as written ({states})"
            changing = [a for a in first.applied if a.tier is Tier.BEHAVIOUR_CHANGING]
            self.verdict(changing, "not proven", why)
            # The fixes that wait for a measurement (limits, tmpfs, capabilities of unknown images) too.
            report.verdicts += [
                Verdict(f.rule, f.line, f.message, "not proven", why) for f in _waiting_for_measurement(first)
            ]
            return report
        measured = {n: s.measured for n, s in baseline.items() if s.works and s.measured is not None}
        if self.stack is None:
            measured = self.seed_capabilities(measured)
        config = replace(self.config, measured=tuple(measured.items()))
        proposed = self.fix(config)
        changing = [a for a in proposed.applied if a.tier is Tier.BEHAVIOUR_CHANGING]
        if not changing:
            report.fixed_text, report.result, report.measured = proposed.fixed, proposed, config.measured
            return report
        started = _started(working, baseline)
        if self.out_of_time():
            self.verdict(changing, "not proven", "the time limit was reached before the fixes were started")
            return report
        broken = self.broken_by(proposed, working)
        dropped: dict[str, str] = {}  # rules dropped for every service, and why
        by_line = self.service_lines()
        rules = list(dict.fromkeys(a.rule for a in changing))
        kept = rules
        final = proposed
        if broken:
            # Something broke: try each behaviour-changing rule alone, beside the safe fixes. A rule that
            # breaks a service it changed is declined for that service only; its other services keep it.
            declines: dict[str, list[tuple[str, str]]] = {}
            for rule in rules:
                if self.out_of_time():
                    self.verdict(changing, "not proven", "the time limit was reached before this fix was tried", {rule})
                    dropped[rule] = ""
                    continue
                alone = self.fix(config, tuple(r for r in rules if r != rule))
                failures = self.broken_by(alone, working)
                if not failures:
                    continue
                touched = {by_line[a.line] for a in alone.applied if a.rule == rule and a.line in by_line}
                failed = {name for name, _ in failures}
                why = "; ".join(failure for _, failure in failures)
                guilty = (failed & touched) or touched
                if not touched or guilty == touched:
                    dropped[rule] = why
                    continue
                for name in guilty:
                    declines.setdefault(name, []).append((rule, f"hardener prove saw it break the service: {why}"))
                lines = {line for line, name in by_line.items() if name in guilty}
                self.report.verdicts += [
                    Verdict(a.rule, a.line, a.description, "dropped", why)
                    for a in changing
                    if a.rule == rule and a.line in lines
                ]
            if declines:
                measured = {n: m for n, m in measured.items()}
                for name, declined in declines.items():
                    measured[name] = replace(measured.get(name) or Measurement(), declined=tuple(declined))
                config = replace(config, measured=tuple(measured.items()))
            kept = [r for r in rules if r not in dropped]
            final = self.fix(config, tuple(dropped))
            together = self.broken_by(final, working) if kept else []
            for rule, why in dropped.items():
                if why:
                    self.verdict(changing, "dropped", why, {rule})
            if together:
                why = "each works alone, not together: " + "; ".join(failure for _, failure in together)
                self.verdict(
                    [a for a in final.applied if a.tier is Tier.BEHAVIOUR_CHANGING], "not proven", why, set(kept)
                )
                final = self.fix(config, tuple(rules))
                report.fixed_text, report.result, report.measured = final.fixed, final, config.measured
                return report
        trials: dict[str, str] = {}
        if "HD202" in kept and self.stack is None:
            config, final, trials = self.confirm_capabilities(config, measured, tuple(dropped), final, working)
        # Each proven fix names its own service: how it ran, and for capabilities how the set was found.
        for applied in final.applied:
            if applied.tier is not Tier.BEHAVIOUR_CHANGING or applied.rule not in kept:
                continue
            service = by_line.get(applied.line)
            why = started if service is None or service not in baseline else _started([service], baseline)
            if applied.rule == "HD202" and service in trials:
                why += "; " + trials[service]
            elif applied.rule == "HD202" and service in self.inherited and service in measured:
                why += "; cap_add is " + measured[service].capabilities_how
            report.verdicts.append(Verdict(applied.rule, applied.line, applied.description, "proven", why))
        report.fixed_text, report.result, report.measured = final.fixed, final, config.measured
        return report

    # -- capabilities

    def services(self) -> list:
        from hardener.compose.document import ComposeDocument

        if self.stack is not None:
            return []
        try:
            return ComposeDocument(self.text, self.path).standalone_services
        except Exception:  # the fix runs above have parsed it; nothing to learn otherwise
            return []

    def service_images(self) -> dict[str, str | None]:
        from hardener.compose.services import image

        return {service.name: image(service) for service in self.services()}

    def service_lines(self) -> dict[int, str]:
        """The line of each service's key (where its findings are reported), to its name."""
        return {service.key.line: service.name for service in self.services()}

    def seed_capabilities(self, measured: dict[str, Measurement]) -> dict[str, Measurement]:
        """Services whose image the table does not know start from Docker's default set, so that
        trials can find what they need; known images start from the table's set."""
        from hardener.measured import DOCKER_DEFAULT_CAPABILITIES
        from hardener.policy import capabilities_to_add

        seeded = dict(measured)
        for name, image in self.service_images().items():
            if name not in measured or capabilities_to_add(image, self.config) is not None:
                continue
            base = self.built_on(name) if image is None else None
            needs = capabilities_to_add(base, self.config) if base else None
            if base and needs is not None:
                # Built FROM a known image and started as it starts: its set, confirmed by the fixed run.
                self.inherited.add(name)
                seeded[name] = replace(
                    measured[name],
                    capabilities=needs,
                    capabilities_how=f"what `{base}` needs: the service is built FROM it and starts as it does",
                )
            else:
                seeded[name] = replace(
                    measured[name],
                    capabilities=DOCKER_DEFAULT_CAPABILITIES,
                    capabilities_how="Docker's default capabilities, named one by one (not narrowed by trial)",
                )
        return seeded

    def built_on(self, service: str) -> str | None:
        from hardener.evidence.builds import built_on

        if self.repository is None or self.repository_path is None:
            return None
        return built_on(self.repository, self.repository_path, service)

    def confirm_capabilities(self, config, measured, dropped, final, working):
        """Take out each added capability in turn (of every service at once) and keep it out when the
        stack still works: the set left was started and is needed. Returns (config, fixed, what it found)."""
        from hardener.policy import capabilities_to_add

        images = self.service_images()
        current: dict[str, list[str]] = {}
        for name in working:
            m = measured.get(name)
            if m is None or name not in images:
                continue
            start = m.capabilities if m.capabilities is not None else capabilities_to_add(images[name], self.config)
            # Sets the table gives (for the image or the one it is built FROM) are narrowed only on
            # request; Docker's default set always is.
            if start and (self.minimise or (m.capabilities is not None and name not in self.inherited)):
                current[name] = list(start)
        needed: dict[str, list[str]] = {name: [] for name in current}
        removed: dict[str, list[str]] = {name: [] for name in current}
        timed_out = False
        from hardener.measured import DOCKER_DEFAULT_CAPABILITIES, STEP_DOWN_CAPABILITIES

        def broken_with(sets: dict[str, tuple[str, ...]]) -> set[str]:
            candidate_sets = {n: sets.get(n, tuple(c)) for n, c in current.items()}
            trial = replace(config, measured=_with_capabilities(measured, candidate_sets, ""))
            return {n for n, _ in self.broken_by(self.fix(trial, dropped), working)}

        method = {name: "started without each capability in turn" for name in current}
        # Services that started with Docker's whole default set try none at all first (many need none),
        # then the step-down set, before capabilities are taken out one by one.
        seeded = [n for n in current if tuple(current[n]) == DOCKER_DEFAULT_CAPABILITIES]
        if seeded and not self.out_of_time():
            broken = broken_with({n: () for n in seeded})
            for name in seeded:
                if name not in broken:
                    removed[name], current[name] = current[name], []
                    method[name] = "started with none"
            seeded = [n for n in seeded if n in broken]
        if seeded and not self.out_of_time():
            broken = broken_with({n: STEP_DOWN_CAPABILITIES for n in seeded})
            for name in seeded:
                if name not in broken:
                    removed[name] = [c for c in current[name] if c not in STEP_DOWN_CAPABILITIES]
                    current[name] = list(STEP_DOWN_CAPABILITIES)
                    method[name] = (
                        f"none failed; started with {', '.join(STEP_DOWN_CAPABILITIES)} (what an entrypoint that "
                        "steps down to its own user needs), then without each of them in turn"
                    )
        untried = {name: list(caps) for name, caps in current.items()}
        while any(untried.values()):
            if self.out_of_time():
                timed_out = True
                break
            trying = {name: caps.pop(0) for name, caps in untried.items() if caps}
            broken = broken_with(
                {n: tuple(c for c in current[n] if c != capability) for n, capability in trying.items()}
            )
            for name, capability in trying.items():
                if name in broken:
                    needed[name].append(capability)
                else:
                    current[name].remove(capability)
                    removed[name].append(capability)
        if not current:
            return config, final, {}
        how = {
            n: (
                f"cap_add found by trial: {method[n]}; needed "
                f"{', '.join(needed[n]) or 'none'}"
                + (f", not needed {', '.join(removed[n])}" if removed[n] else "")
                + ("; the time limit ended the trials, the rest were kept" if timed_out else "")
            )
            for n in current
        }
        config = replace(config, measured=_with_capabilities(measured, {n: tuple(c) for n, c in current.items()}, how))
        return config, self.fix(config, dropped), how


def _with_capabilities(measured: dict[str, Measurement], sets: dict[str, tuple[str, ...]], how) -> tuple:
    out = dict(measured)
    for name, caps in sets.items():
        explanation = how[name] if isinstance(how, dict) else how
        out[name] = replace(out.get(name) or Measurement(), capabilities=caps, capabilities_how=explanation)
    return tuple(out.items())


def _behaviour_changing(result) -> bool:
    """Whether the file has any behaviour-changing fix, made or declined (measurements may enable it)."""
    return any(a.tier is Tier.BEHAVIOUR_CHANGING for a in result.applied) or bool(_waiting_for_measurement(result))


# The rules whose declined fixes a measurement can enable: values learned from the running container.
_MEASURABLE_RULES = ("HD202", "HD203", "HD204")


def _waiting_for_measurement(result) -> list:
    return [f for f in result.findings if f.fix is None and f.rule in _MEASURABLE_RULES and f.role == "production"]


def _started(services: list[str], states: dict[str, ServiceState]) -> str:
    seen = []
    for name in services:
        measured = states[name].measured
        detail = measured.describe() if measured is not None else ""
        answering = [str(port) for port, outcome in states[name].ports if outcome == "answers"]
        if answering:
            detail = f"port {', '.join(answering)} answers" + (f", {detail}" if detail else "")
        seen.append(f"{name} ({states[name].describe()}{', ' + detail if detail else ''})")
    return "started before and after the fix, and still working: " + ", ".join(seen)


def _failure(name: str, state: ServiceState, lost_ports: list[str]) -> str:
    excerpt = " | ".join(line.strip() for line in state.log.strip().splitlines()[-3:] if line.strip())
    what = ", ".join(lost_ports) if lost_ports else state.describe()
    return f"{name} {what}" + (f" ({excerpt})" if excerpt else "")


# `KEY: value` or `KEY=value` where the key names a secret (compose environment, Dockerfile ENV and ARG).
_SECRET_ASSIGNMENT = re.compile(r"""([A-Za-z_][A-Za-z0-9_]*)["']?[ \t]*[:=][ \t]*["']?([^\s"'#,}]{4,})""")


def _secret_values(text: str) -> tuple[str, ...]:
    from hardener.secret_names import looks_secret

    found = {
        value for name, value in _SECRET_ASSIGNMENT.findall(text) if looks_secret(name) and not value.startswith("$")
    }
    return tuple(sorted(found, key=len, reverse=True))


def _throwaway_values(names: tuple[str, ...]) -> dict[str, str]:
    """Values for the variables the fixes require (moved secrets): random, used for this run only."""
    import secrets

    return {name: secrets.token_hex(12) for name in names}
