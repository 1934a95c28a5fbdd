"""The rule registry: every rule, in id order, and selection by configuration.

Rules are listed here by id, name and module, and a module is imported only
when its kind of file is in the run, so start-up stays light.
"""

from __future__ import annotations

import importlib

from hardener.config import Config
from hardener.rules.base import Rule

# (id, name, kind, module, class[, the setting without which the rule is off])
REGISTRY: tuple[tuple[str, ...], ...] = (
    ("HD101", "root-user", "dockerfile", "hardener.rules.dockerfile.root_user", "RootUser"),
    (
        "HD102",
        "package-update-in-own-layer",
        "dockerfile",
        "hardener.rules.dockerfile.package_update_in_own_layer",
        "PackageUpdateInOwnLayer",
    ),
    (
        "HD103",
        "package-install-prompts",
        "dockerfile",
        "hardener.rules.dockerfile.package_install_prompts",
        "PackageInstallPrompts",
    ),
    (
        "HD104",
        "package-cache-left-in-layer",
        "dockerfile",
        "hardener.rules.dockerfile.package_cache_left_in_layer",
        "PackageCacheLeftInLayer",
    ),
    ("HD105", "add-instead-of-copy", "dockerfile", "hardener.rules.dockerfile.add_instead_of_copy", "AddInsteadOfCopy"),
    (
        "HD106",
        "floating-base-image",
        "dockerfile",
        "hardener.rules.dockerfile.floating_base_image",
        "FloatingBaseImage",
    ),
    (
        "HD107",
        "secret-in-build-config",
        "dockerfile",
        "hardener.rules.dockerfile.secret_in_build_config",
        "SecretInBuildConfig",
    ),
    ("HD108", "sudo-in-run", "dockerfile", "hardener.rules.dockerfile.sudo_in_run", "SudoInRun"),
    (
        "HD109",
        "missing-healthcheck",
        "dockerfile",
        "hardener.rules.dockerfile.missing_healthcheck",
        "MissingHealthcheck",
    ),
    (
        "HD110",
        "build-tools-in-final-stage",
        "dockerfile",
        "hardener.rules.dockerfile.build_tools_in_final_stage",
        "BuildToolsInFinalStage",
    ),
    (
        "HD111",
        "untrusted-base-registry",
        "dockerfile",
        "hardener.rules.dockerfile.untrusted_base_registry",
        "UntrustedBaseRegistry",
        "trusted_registries",
    ),
    ("HD112", "image-not-pinned", "dockerfile", "hardener.rules.dockerfile.image_not_pinned", "ImageNotPinned"),
    (
        "HD201",
        "missing-no-new-privileges",
        "compose",
        "hardener.rules.compose.missing_no_new_privileges",
        "MissingNoNewPrivileges",
    ),
    (
        "HD202",
        "capabilities-not-dropped",
        "compose",
        "hardener.rules.compose.capabilities_not_dropped",
        "CapabilitiesNotDropped",
    ),
    (
        "HD203",
        "missing-resource-limits",
        "compose",
        "hardener.rules.compose.missing_resource_limits",
        "MissingResourceLimits",
    ),
    (
        "HD204",
        "writable-root-filesystem",
        "compose",
        "hardener.rules.compose.writable_root_filesystem",
        "WritableRootFilesystem",
    ),
    ("HD205", "service-runs-as-root", "compose", "hardener.rules.compose.service_runs_as_root", "ServiceRunsAsRoot"),
    (
        "HD206",
        "secret-in-environment",
        "compose",
        "hardener.rules.compose.secret_in_environment",
        "SecretInEnvironment",
    ),
    (
        "HD207",
        "compose-image-not-pinned",
        "compose",
        "hardener.rules.compose.image_not_pinned",
        "ComposeImageNotPinned",
    ),
    ("HD210", "privileged-service", "compose", "hardener.rules.compose.privileged_service", "PrivilegedService"),
    (
        "HD211",
        "docker-socket-mounted",
        "compose",
        "hardener.rules.compose.docker_socket_mounted",
        "DockerSocketMounted",
    ),
    (
        "HD212",
        "host-namespace-shared",
        "compose",
        "hardener.rules.compose.host_namespace_shared",
        "HostNamespaceShared",
    ),
    (
        "HD213",
        "security-profile-disabled",
        "compose",
        "hardener.rules.compose.security_profile_disabled",
        "SecurityProfileDisabled",
    ),
    (
        "HD214",
        "database-port-on-all-interfaces",
        "compose",
        "hardener.rules.compose.database_port_on_all_interfaces",
        "DatabasePortOnAllInterfaces",
    ),
    ("HD215", "sensitive-host-mount", "compose", "hardener.rules.compose.sensitive_host_mount", "SensitiveHostMount"),
    (
        "HD301",
        "sdk-missing-no-new-privileges",
        "python",
        "hardener.rules.python.sdk_missing_no_new_privileges",
        "SdkMissingNoNewPrivileges",
    ),
    (
        "HD302",
        "sdk-capabilities-not-dropped",
        "python",
        "hardener.rules.python.sdk_capabilities_not_dropped",
        "SdkCapabilitiesNotDropped",
    ),
    (
        "HD303",
        "sdk-missing-resource-limits",
        "python",
        "hardener.rules.python.sdk_missing_resource_limits",
        "SdkMissingResourceLimits",
    ),
    (
        "HD304",
        "sdk-writable-root-filesystem",
        "python",
        "hardener.rules.python.sdk_writable_root_filesystem",
        "SdkWritableRootFilesystem",
    ),
    ("HD305", "sdk-runs-as-root", "python", "hardener.rules.python.sdk_runs_as_root", "SdkRunsAsRoot"),
    ("HD306", "sdk-image-not-pinned", "python", "hardener.rules.python.sdk_image_not_pinned", "SdkImageNotPinned"),
    (
        "HD310",
        "sdk-privileged-container",
        "python",
        "hardener.rules.python.sdk_privileged_container",
        "SdkPrivilegedContainer",
    ),
    ("HD311", "sdk-host-namespace", "python", "hardener.rules.python.sdk_host_namespace", "SdkHostNamespace"),
    (
        "HD312",
        "sdk-docker-socket-volume",
        "python",
        "hardener.rules.python.sdk_docker_socket_volume",
        "SdkDockerSocketVolume",
    ),
)


def _load(entry) -> type[Rule]:
    return getattr(importlib.import_module(entry[3]), entry[4])


def __getattr__(name: str):
    if name == "ALL_RULES":  # every rule class, loaded on first use (listings, docs, tests)
        return tuple(_load(entry) for entry in REGISTRY)
    raise AttributeError(name)


def _matches(entry, selector: str) -> bool:
    s = selector.strip()
    return s.upper() == "ALL" or entry[0].startswith(s.upper()) or entry[1] == s.lower()


def rule_by_selector(selector: str) -> type[Rule] | None:
    """The rule named exactly by id or name."""
    s = selector.strip()
    entry = next((e for e in REGISTRY if e[0] == s.upper() or e[1] == s.lower()), None)
    return _load(entry) if entry else None


def validate_selectors(selectors: tuple[str, ...]) -> str | None:
    """The first selector that matches no rule, if any."""
    return next((s for s in selectors if not any(_matches(e, s) for e in REGISTRY)), None)


def selected_rules(config: Config, kind: str) -> list[Rule]:
    chosen = []
    for entry in REGISTRY:
        if entry[2] != kind:
            continue
        if config.select:
            if not any(_matches(entry, s) for s in config.select):
                continue
        elif len(entry) > 5 and not getattr(config, entry[5]):
            continue  # a rule that needs a setting (a list of trusted registries) is off without it
        if any(_matches(entry, s) for s in config.ignore):
            continue
        chosen.append(_load(entry)())
    return chosen
