"""The rule registry: every rule, in id order, and selection by configuration."""

from __future__ import annotations

from hardener.config import Config
from hardener.rules.base import Rule
from hardener.rules.compose.capabilities_not_dropped import CapabilitiesNotDropped
from hardener.rules.compose.database_port_on_all_interfaces import DatabasePortOnAllInterfaces
from hardener.rules.compose.docker_socket_mounted import DockerSocketMounted
from hardener.rules.compose.host_namespace_shared import HostNamespaceShared
from hardener.rules.compose.image_not_pinned import ComposeImageNotPinned
from hardener.rules.compose.missing_no_new_privileges import MissingNoNewPrivileges
from hardener.rules.compose.missing_resource_limits import MissingResourceLimits
from hardener.rules.compose.privileged_service import PrivilegedService
from hardener.rules.compose.secret_in_environment import SecretInEnvironment
from hardener.rules.compose.security_profile_disabled import SecurityProfileDisabled
from hardener.rules.compose.sensitive_host_mount import SensitiveHostMount
from hardener.rules.compose.service_runs_as_root import ServiceRunsAsRoot
from hardener.rules.compose.writable_root_filesystem import WritableRootFilesystem
from hardener.rules.dockerfile.add_instead_of_copy import AddInsteadOfCopy
from hardener.rules.dockerfile.build_tools_in_final_stage import BuildToolsInFinalStage
from hardener.rules.dockerfile.floating_base_image import FloatingBaseImage
from hardener.rules.dockerfile.image_not_pinned import ImageNotPinned
from hardener.rules.dockerfile.missing_healthcheck import MissingHealthcheck
from hardener.rules.dockerfile.package_cache_left_in_layer import PackageCacheLeftInLayer
from hardener.rules.dockerfile.package_install_prompts import PackageInstallPrompts
from hardener.rules.dockerfile.package_update_in_own_layer import PackageUpdateInOwnLayer
from hardener.rules.dockerfile.root_user import RootUser
from hardener.rules.dockerfile.secret_in_build_config import SecretInBuildConfig
from hardener.rules.dockerfile.sudo_in_run import SudoInRun
from hardener.rules.dockerfile.untrusted_base_registry import UntrustedBaseRegistry
from hardener.rules.python.sdk_capabilities_not_dropped import SdkCapabilitiesNotDropped
from hardener.rules.python.sdk_docker_socket_volume import SdkDockerSocketVolume
from hardener.rules.python.sdk_host_namespace import SdkHostNamespace
from hardener.rules.python.sdk_image_not_pinned import SdkImageNotPinned
from hardener.rules.python.sdk_missing_no_new_privileges import SdkMissingNoNewPrivileges
from hardener.rules.python.sdk_missing_resource_limits import SdkMissingResourceLimits
from hardener.rules.python.sdk_privileged_container import SdkPrivilegedContainer
from hardener.rules.python.sdk_runs_as_root import SdkRunsAsRoot
from hardener.rules.python.sdk_writable_root_filesystem import SdkWritableRootFilesystem

ALL_RULES: tuple[type[Rule], ...] = tuple(
    sorted(
        (
            RootUser,
            PackageUpdateInOwnLayer,
            PackageInstallPrompts,
            PackageCacheLeftInLayer,
            AddInsteadOfCopy,
            FloatingBaseImage,
            SecretInBuildConfig,
            SudoInRun,
            MissingHealthcheck,
            BuildToolsInFinalStage,
            UntrustedBaseRegistry,
            ImageNotPinned,
            ComposeImageNotPinned,
            MissingNoNewPrivileges,
            CapabilitiesNotDropped,
            MissingResourceLimits,
            WritableRootFilesystem,
            ServiceRunsAsRoot,
            SecretInEnvironment,
            PrivilegedService,
            DockerSocketMounted,
            HostNamespaceShared,
            SecurityProfileDisabled,
            DatabasePortOnAllInterfaces,
            SensitiveHostMount,
            SdkMissingNoNewPrivileges,
            SdkCapabilitiesNotDropped,
            SdkMissingResourceLimits,
            SdkWritableRootFilesystem,
            SdkRunsAsRoot,
            SdkImageNotPinned,
            SdkPrivilegedContainer,
            SdkHostNamespace,
            SdkDockerSocketVolume,
        ),
        key=lambda r: r.id,
    )
)


def rule_by_selector(selector: str) -> type[Rule] | None:
    """The rule named exactly by id or name."""
    s = selector.strip()
    return next((r for r in ALL_RULES if r.id == s.upper() or r.name == s.lower()), None)


def validate_selectors(selectors: tuple[str, ...]) -> str | None:
    """The first selector that matches no rule, if any."""
    return next((s for s in selectors if not any(r.matches(s) for r in ALL_RULES)), None)


def selected_rules(config: Config, kind: str) -> list[Rule]:
    chosen = []
    for rule in ALL_RULES:
        if rule.kind != kind:
            continue
        if config.select:
            if not any(rule.matches(s) for s in config.select):
                continue
        elif not rule.enabled_by_default and not _configured(rule, config):
            continue
        if any(rule.matches(s) for s in config.ignore):
            continue
        chosen.append(rule())
    return chosen


def _configured(rule: type[Rule], config: Config) -> bool:
    # The registry rule needs a list to check against.
    return rule is UntrustedBaseRegistry and bool(config.trusted_registries)
