"""The command line: `hardener check | fix | prove | rules | explain`.

Exit codes: 0 nothing to report, 1 findings remain (or, with --diff, changes
would be made), 2 usage, configuration or input errors.
"""

from __future__ import annotations

import argparse
import os
import sys

from hardener import __version__


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hardener",
        description="Harden Dockerfiles with minimal, verified edits.",
    )
    parser.add_argument("--version", action="version", version=f"hardener {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def scan_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "paths",
            nargs="*",
            default=["."],
            metavar="PATH",
            help="files or folders (default: .); after `--` every argument is a path, even one starting with -",
        )
        p.add_argument(
            "--format",
            choices=("text", "json", "sarif", "github"),
            default="text",
            help="output format: text, json, sarif (GitHub code scanning) or github (workflow annotations)",
        )
        p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of standard output")
        p.add_argument("--select", type=_csv, metavar="RULES", help="only these rules (ids, names or id prefixes)")
        p.add_argument("--ignore", type=_csv, metavar="RULES", help="skip these rules, on top of the configuration")
        p.add_argument("--config", metavar="FILE", help="use this settings file instead of searching for one")
        p.add_argument(
            "--unsafe-fixes",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="also apply behaviour-changing fixes",
        )
        p.add_argument(
            "--jobs",
            "-j",
            type=int,
            default=None,
            metavar="N",
            help="files processed in parallel (default: the number of CPUs; 1 for none)",
        )
        p.add_argument(
            "--stdin-filename",
            metavar="PATH",
            help="with `-` as the path: the name of the file read from standard input (its kind and settings)",
        )
        p.add_argument("--exit-zero", action="store_true", help="exit 0 even when findings remain (2 still on errors)")
        p.add_argument("--statistics", action="store_true", help="count the findings per rule instead of listing them")
        p.add_argument("--show-fixes", action="store_true", help="list the fixes, grouped by file and rule")
        p.add_argument(
            "--offline",
            action="store_true",
            default=os.environ.get("HARDENER_OFFLINE", "") not in ("", "0", "false"),
            help="make no network requests: pin only from the cache or lock file (also HARDENER_OFFLINE=1)",
        )

    check = commands.add_parser("check", help="report what needs hardening; exit 1 if anything does")
    scan_options(check)
    fix = commands.add_parser("fix", help="apply the fixes (safe ones unless --unsafe-fixes)")
    scan_options(fix)
    fix.add_argument("--diff", action="store_true", help="print a unified diff and write nothing")
    fix.add_argument(
        "--exit-non-zero-on-fix",
        action="store_true",
        help="exit 1 when a fix was made (or, with --diff, would be), even if no finding remains",
    )

    def prove_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--wait", type=int, default=60, metavar="SECONDS", help="how long each start may take")
        p.add_argument(
            "--time-limit",
            type=int,
            default=1200,
            metavar="SECONDS",
            help="for the whole prove run; fixes not tried by then are reported as not proven",
        )

    fix.add_argument(
        "--prove",
        action="store_true",
        help="first start each stack and image before and after its behaviour-changing fixes (needs Docker); "
        "apply those that still work, with values learned from the running containers",
    )
    prove_options(fix)
    prove = commands.add_parser(
        "prove",
        help="start each compose stack and image before and after its behaviour-changing fixes (needs Docker); "
        "report which still work; writes nothing",
    )
    prove.add_argument("paths", nargs="*", default=["."], metavar="PATH")
    prove_options(prove)
    prove.add_argument(
        "--minimise-capabilities",
        action="store_true",
        help="also confirm by trial each capability the image table adds (one more start per capability)",
    )
    prove.add_argument("--config", metavar="FILE", help="use this settings file instead of searching for one")
    prove.add_argument("--format", choices=("text", "json"), default="text")
    rules = commands.add_parser("rules", help="list every rule")
    rules.add_argument("--format", choices=("text", "json"), default="text")
    explain = commands.add_parser("explain", help="explain one rule")
    explain.add_argument("rule", help="rule id or name, e.g. HD101 or root-user")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "rules":
            return _rules(args.format)
        if args.command == "explain":
            return _explain(args.rule)
        if args.command == "prove":
            return _prove(args)
        return _scan(args)
    except BrokenPipeError:
        return 1
    except KeyboardInterrupt:
        # Whatever a prove run had started was removed on the way out (see hardener.prove.docker).
        sys.stderr.write("hardener: interrupted\n")
        return 130
    except ModuleNotFoundError as exc:
        # Heavy dependencies are imported where first used: a broken install shows up mid-run.
        if not exc.name or exc.name.startswith("hardener"):
            raise
        sys.stderr.write(
            f"hardener: error: the Python package {exc.name!r} is missing from this environment; "
            "install hardener with its dependencies (pip install hardener)\n"
        )
        return 2


def _prove(args) -> int:
    """Start each stack and image as written and with its fixes; report proven, dropped and unproven fixes."""
    import json

    from hardener.prove.command import as_json, as_text, prove_paths

    run = prove_paths(
        args.paths,
        config_path=args.config,
        wait_seconds=args.wait,
        time_limit=args.time_limit,
        minimise_capabilities=args.minimise_capabilities,
    )
    if run.problem:
        sys.stderr.write(f"hardener: error: cannot prove: {run.problem}\n")
        return 2
    for error in run.errors:
        sys.stderr.write(f"hardener: error: {error}\n")
    if run.errors:
        return 2
    if args.format == "json":
        sys.stdout.write(json.dumps(as_json(run), indent=2) + "\n")
    else:
        sys.stdout.write(as_text(run))
    return 0


def _prove_first(args, overrides: dict):
    """`fix --prove`: prove the files, print what was found to standard error, and return the
    per-file settings the fix then uses (None when proving could not start because of bad input)."""
    from dataclasses import replace

    from hardener.prove.command import as_text, prove_paths

    run = prove_paths(
        args.paths,
        config_path=args.config,
        overrides=overrides,
        wait_seconds=args.wait,
        time_limit=args.time_limit,
    )
    if run.errors:
        for error in run.errors:
            sys.stderr.write(f"hardener: error: {error}\n")
        return None
    if run.problem:
        sys.stderr.write(
            f"hardener: warning: cannot prove: {run.problem}; behaviour-changing fixes are not proven, "
            'so they are applied only where the settings say `unproven = "apply"`\n'
        )
    else:
        sys.stderr.write(as_text(run))

    def adjust(path: str, config):
        report = run.report_for(path)
        if report is not None:
            return report.config_for_fix(config)
        # Nothing proved this file (a Python module, or no daemon): unproven fixes only on request.
        return config if config.unproven == "apply" else replace(config, unsafe_fixes=False)

    return adjust


def _scan(args) -> int:
    from hardener.rules import validate_selectors
    from hardener.runner import run

    for selectors in (args.select or (), args.ignore or ()):
        unknown = validate_selectors(selectors)
        if unknown:
            sys.stderr.write(f"hardener: error: unknown rule {unknown!r} (see `hardener rules`)\n")
            return 2
    overrides = {"select": args.select, "unsafe_fixes": args.unsafe_fixes}
    if args.ignore:
        overrides["extra_ignore"] = args.ignore
    diff = getattr(args, "diff", False)
    if args.statistics and args.format not in ("text", "json"):
        sys.stderr.write("hardener: error: --statistics works with --format text or json\n")
        return 2
    if "-" in args.paths and args.paths != ["-"]:
        sys.stderr.write("hardener: error: `-` (standard input) cannot be named with other paths\n")
        return 2
    if args.stdin_filename is not None and args.paths != ["-"]:
        sys.stderr.write("hardener: error: --stdin-filename needs `-` as the only path\n")
        return 2
    if args.output is not None:
        # Fail before any file is fixed, not after.
        if not os.path.isdir(os.path.dirname(os.path.abspath(args.output))):
            sys.stderr.write(f"hardener: error: cannot write {args.output}: its folder does not exist\n")
            return 2
        if os.path.islink(args.output):
            sys.stderr.write(f"hardener: error: cannot write {args.output}: it is a symbolic link; not written\n")
            return 2
    if args.paths == ["-"]:
        if getattr(args, "prove", False):
            sys.stderr.write("hardener: error: --prove needs files on disk, not standard input\n")
            return 2
        return _scan_stdin(args, overrides, diff)
    adjust = None
    if getattr(args, "prove", False):
        if overrides["unsafe_fixes"] is None:
            overrides["unsafe_fixes"] = True  # proving is for the behaviour-changing fixes
        adjust = _prove_first(args, overrides)
        if adjust is None:
            return 2
    report = run(
        args.paths,
        args.command,
        write=args.command == "fix" and not diff,
        config_path=args.config,
        overrides=overrides,
        offline=args.offline,
        jobs=args.jobs,
        progress=_progress_bar(),
        adjust=adjust,
    )
    return _report(report, args, diff, sys.stdout)


def _scan_stdin(args, overrides: dict, diff: bool) -> int:
    """`check -` and `fix -`: one file from standard input. `fix -` writes exactly the fixed file to
    standard output (the input as it was when nothing changed or the input is bad), the report to
    standard error, so an editor can replace its buffer with what it gets."""
    from hardener.files import MAX_BYTES
    from hardener.runner import run_text

    raw = sys.stdin.buffer.read(MAX_BYTES + 1)
    report = run_text(
        raw,
        args.stdin_filename or "-",
        args.command,
        config_path=args.config,
        overrides=overrides,
        offline=args.offline,
    )
    if args.command == "check" or diff:
        return _report(report, args, diff, sys.stdout)
    outcome = report.files[0] if report.files else None
    if outcome is None or outcome.error is not None or not outcome.changed:
        sys.stdout.buffer.write(raw)
    else:
        sys.stdout.buffer.write(("\ufeff" if outcome.bom else "").encode() + outcome.fixed.encode("utf-8"))
    sys.stdout.flush()
    return _report(report, args, diff, sys.stderr)


def _exit_code(report, args, diff: bool) -> int:
    code = report.exit_code(diff)
    if code == 2:
        return code
    if args.exit_zero:
        return 0
    if getattr(args, "exit_non_zero_on_fix", False) and any(o.changed for o in report.files):
        return 1
    return code


def _report(report, args, diff: bool, stream) -> int:
    """Render the report in the chosen format to `stream` (or to -o FILE); the run's exit code."""
    import importlib

    # One module per format, imported only when chosen: hardener.reporters.text, .json, .sarif, .github.
    reporter = importlib.import_module(f"hardener.reporters.{args.format}")
    options = {}
    if args.statistics:
        options["statistics"] = True
    if args.show_fixes and args.format == "text":
        options["show_fixes"] = True
    if args.output is None:
        reporter.render(report, diff=diff, out=stream, **options)
        return _exit_code(report, args, diff)
    import io

    from hardener.files import write_report
    from hardener.model import InputError

    out = io.StringIO(newline="")  # the report (a patch, say) is written exactly as rendered
    reporter.render(report, diff=diff, out=out, **options)
    try:
        # Never through a link (one planted meanwhile included), and all at once. A path inside the
        # repository must stay inside it: a folder link planted in a checkout must not lead the report
        # out. A place named outside the repository is the user's own choice.
        write_report(args.output, out.getvalue(), root=_report_root(args.output))
    except InputError as exc:
        reason = exc.message.removeprefix("cannot write: ")
        sys.stderr.write(f"hardener: error: cannot write {args.output}: {reason}\n")
        return 2
    return _exit_code(report, args, diff)


def _report_root(output: str) -> str:
    from hardener.files import is_inside, repository_of

    cwd = os.getcwd()
    repository = repository_of(cwd) or cwd
    named = os.path.abspath(output)
    return repository if is_inside(named, repository) else os.path.dirname(named)


def _progress_bar():
    """A progress callback that draws a bar on a terminal; None elsewhere (CI logs stay quiet)."""
    if not sys.stderr.isatty() or os.environ.get("CI"):
        return None
    state = {}

    def update(done: int, total: int) -> None:
        if total < 200:
            return  # small runs finish before a bar would help
        if "progress" not in state:
            from rich.progress import Progress

            state["progress"] = Progress(transient=True)
            state["progress"].start()
            state["task"] = state["progress"].add_task("hardening", total=total)
        state["progress"].update(state["task"], completed=done)
        if done == total:
            state["progress"].stop()

    return update


def _rules(fmt: str) -> int:
    from hardener.rules import ALL_RULES

    if fmt == "json":
        import json

        json.dump(
            [
                {
                    "id": r.id,
                    "name": r.name,
                    "kind": r.kind,
                    "summary": r.summary,
                    "severity": r.severity.value,
                    "fix": r.fix_kind(),
                    "references": list(r.references),
                }
                for r in ALL_RULES
            ],
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
        return 0
    width = max(len(r.name) for r in ALL_RULES)
    for r in ALL_RULES:
        sys.stdout.write(f"{r.id}  {r.name:<{width}}  {r.fix_kind():<18}  {r.summary}\n")
    return 0


def _explain(selector: str) -> int:
    import textwrap

    from hardener.rules import rule_by_selector

    rule = rule_by_selector(selector)
    if rule is None:
        sys.stderr.write(f"hardener: error: unknown rule {selector!r} (see `hardener rules`)\n")
        return 2
    lines = [
        f"{rule.id} {rule.name}: {rule.summary}",
        f"Applies to: {rule.kind}. Severity: {rule.severity.value}. Fix: {rule.fix_kind()}.",
        "",
        *textwrap.wrap(rule.rationale, 88),
        "",
        "References: " + ", ".join(rule.references),
        f"Documentation: {rule.help_uri()}",
    ]
    example = next(((e.before, e.after) for e in rule.invalid if e.after is not None), None)
    if example is not None:
        before, after = example
        lines += ["", "Example:"]
        import difflib

        lines += [
            "  " + line.rstrip("\n")
            for line in difflib.unified_diff(
                before.splitlines(keepends=True), after.splitlines(keepends=True), "before", "after"
            )
        ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
