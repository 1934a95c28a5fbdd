"""Package-manager commands found in RUN instructions (apt, apk, yum, dnf, microdnf, zypper)."""

from __future__ import annotations

from dataclasses import dataclass

from hardener.dockerfile.shell import Command, Script, Word

MANAGERS = {
    "apt-get": "apt",
    "apt": "apt",
    "apk": "apk",
    "yum": "yum",
    "dnf": "dnf",
    "dnf5": "dnf",
    "dnf4": "dnf",
    "microdnf": "microdnf",
    "zypper": "zypper",
}
# Options that take the next word as their value, per manager.
_OPTION_ARGUMENTS = {
    "apt": {"-o", "-c", "-t", "-a", "--option", "--config-file", "--target-release", "--host-architecture"},
    "apk": {
        "-X",
        "-p",
        "-t",
        "--repository",
        "--root",
        "--arch",
        "--virtual",
        "--cache-dir",
        "--keys-dir",
        "--repositories-file",
    },
    "yum": {
        "-c",
        "-x",
        "-d",
        "-e",
        "--installroot",
        "--releasever",
        "--exclude",
        "--setopt",
        "--config",
        "--enablerepo",
        "--disablerepo",
    },
    "zypper": {"-r", "--root", "--repo", "-c", "--config", "-t", "--type"},
}
_OPTION_ARGUMENTS["dnf"] = _OPTION_ARGUMENTS["microdnf"] = _OPTION_ARGUMENTS["yum"]

UPDATE = {"apt": {"update"}, "apk": {"update"}, "zypper": {"refresh", "ref"}}
INSTALL = {
    "apt": {"install", "upgrade", "dist-upgrade", "full-upgrade", "build-dep", "reinstall"},
    "apk": {"add", "upgrade"},
    "yum": {"install", "update", "upgrade", "groupinstall", "reinstall", "downgrade", "localinstall"},
    "zypper": {"install", "in", "update", "up", "patch", "dist-upgrade", "dup"},
}
INSTALL["dnf"] = INSTALL["microdnf"] = INSTALL["yum"]
# Commands that read the package index to add packages (upgrades excluded).
ADD_PACKAGES = {"apt": {"install", "build-dep", "reinstall"}, "apk": {"add"}, "zypper": {"install", "in"}}


@dataclass
class PackageCommand:
    manager: str  # apt, apk, yum, dnf, microdnf, zypper
    program: str  # as written: apt-get, apt, ...
    command: Command
    options: list[Word]  # every option word, before and after the subcommand
    subcommand: Word | None
    operands: list[Word]  # words after the subcommand that are not options

    @property
    def action(self) -> str | None:
        return self.subcommand.text if self.subcommand else None

    @property
    def installs(self) -> bool:
        return self.action in INSTALL.get(self.manager, ())

    @property
    def adds_packages(self) -> bool:
        return self.action in ADD_PACKAGES.get(self.manager, ())

    @property
    def updates_index(self) -> bool:
        return self.action in UPDATE.get(self.manager, ())

    def has_option(self, *names: str, short: str | None = None) -> bool:
        """A long/short option by name, or a short letter inside a cluster like -qy."""
        for w in self.options:
            text = w.text
            if text in names or text.split("=", 1)[0] in names:
                return True
            if short and len(text) > 1 and text[0] == "-" and text[1] != "-" and short in text[1:]:
                return True
        return False


def package_commands(script: Script) -> list[PackageCommand]:
    """The package-manager commands of a script (computed once per script: several rules ask)."""
    cache = vars(script)  # kept on the script, which declares no field for it
    cached = cache.get("_package_commands")
    if cached is not None:
        return cached
    found: list[PackageCommand] = []
    cache["_package_commands"] = found
    for command in script.commands:
        program = command.program or ""
        manager = MANAGERS.get(program)
        if manager is None:
            continue
        takes_value = _OPTION_ARGUMENTS.get(manager, set())
        options: list[Word] = []
        subcommand = None
        operands: list[Word] = []
        args = command.arguments()
        i = 0
        while i < len(args):
            w = args[i]
            if w.text == "--" and not w.quoted:
                # Options end here: an edit could not place a flag safely.
                subcommand = None
                break
            if w.text.startswith("-") and not w.quoted:
                options.append(w)
                if i + 1 < len(args) and (
                    w.text in takes_value
                    # apt reads a number after -q as the quiet level (`-q 2`).
                    or (manager == "apt" and w.text in ("-q", "--quiet") and args[i + 1].text.isdigit())
                ):
                    options.append(args[i + 1])
                    i += 1
            elif subcommand is None:
                subcommand = w
            else:
                operands.append(w)
            i += 1
        found.append(PackageCommand(manager, program, command, options, subcommand, operands))
    return found
