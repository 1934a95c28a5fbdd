"""Image references and what hardener knows about popular base images.

The knowledge here is data, kept small and documented: which images already
run as a non-root user, which ship one, which tools create users, and which
start as root on purpose and step down themselves (gosu, su-exec, a master
process that binds ports and forks workers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")


@dataclass(frozen=True)
class ImageRef:
    """A parsed reference, kept next to the exact text it came from."""

    text: str
    registry: str  # docker.io for Docker Hub
    repository: str  # library/python for official images
    tag: str | None
    digest: str | None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        rest, _, digest = text.partition("@")
        name, tag = rest, None
        slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > slash:
            name, tag = rest[:colon], rest[colon + 1 :]
        first, sep, remainder = name.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost"):
            registry, repository = first, remainder
        else:
            registry, repository = DOCKER_HUB, name
            if "/" not in repository:
                repository = f"library/{repository}"
        return cls(text, registry.lower(), repository.lower(), tag, digest or None)

    @property
    def is_scratch(self) -> bool:
        return self.text.lower() == "scratch"

    @property
    def name(self) -> str:
        """Last path component: python for docker.io/library/python."""
        return self.repository.rsplit("/", 1)[-1]

    @property
    def is_official(self) -> bool:
        return self.registry == DOCKER_HUB and self.repository.startswith("library/")

    @property
    def has_valid_digest(self) -> bool:
        return self.digest is not None and bool(_DIGEST.match(self.digest))

    @property
    def floats(self) -> bool:
        """No digest and no tag, or the tag `latest`: the image changes under you."""
        return self.digest is None and (self.tag is None or self.tag == "latest")

    def in_registry(self, pattern: str) -> bool:
        """Match `docker.io`, `ghcr.io/org`, `*.gcr.io` style trusted-registry entries."""
        pattern = pattern.lower().rstrip("/")
        host, _, path = pattern.partition("/")
        if host.startswith("*."):
            host_ok = self.registry.endswith(host[1:])
        else:
            host_ok = self.registry == host or (host == "hub.docker.com" and self.registry == DOCKER_HUB)
        return host_ok and (not path or self.repository == path or self.repository.startswith(path + "/"))


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class ImageProfile:
    """What hardener knows about a base image, for the non-root USER fix."""

    # The image's default user is already non-root.
    runs_as_non_root: bool = False
    # A non-root user the image ships, ready for USER.
    shipped_user: User | None = None
    # How to create a user: "debian" (groupadd/useradd), "alpine" (busybox addgroup/adduser),
    # "rhel" (shadow-utils useradd); None when the image has no tool for it.
    user_tools: str | None = None
    # Why the image must start as root (it steps down by itself); None when it need not.
    starts_as_root: str | None = None
    windows: bool = False


_DEBIAN_TAG_WORDS = ("slim", "bookworm", "bullseye", "buster", "trixie", "stretch", "jammy", "focal", "noble", "bionic")
_STEPS_DOWN = "its entrypoint starts as root and drops to its own user (gosu/su-exec)"
_BINDS_AS_ROOT = "its server starts as root to bind ports and set up directories, then runs workers unprivileged"

# Official images whose entrypoints need root at start.
_STARTS_AS_ROOT = {
    "postgres": _STEPS_DOWN,
    "mysql": _STEPS_DOWN,
    "mariadb": _STEPS_DOWN,
    "redis": _STEPS_DOWN,
    "mongo": _STEPS_DOWN,
    "rabbitmq": _STEPS_DOWN,
    "cassandra": _STEPS_DOWN,
    "couchdb": _STEPS_DOWN,
    "neo4j": _STEPS_DOWN,
    "zookeeper": _STEPS_DOWN,
    "influxdb": _STEPS_DOWN,
    "couchbase": _STEPS_DOWN,
    "nginx": _BINDS_AS_ROOT,
    "httpd": _BINDS_AS_ROOT,
    "wordpress": _BINDS_AS_ROOT,
    "nextcloud": _BINDS_AS_ROOT,
    "drupal": _BINDS_AS_ROOT,
    "joomla": _BINDS_AS_ROOT,
}
# Official images whose default user is already non-root.
_NON_ROOT_OFFICIAL = {"memcached", "elasticsearch", "haproxy", "solr", "sonarqube", "kibana", "logstash"}
# Official images built on Debian unless the tag says otherwise.
_DEBIAN_OFFICIAL = {
    "debian",
    "ubuntu",
    "buildpack-deps",
    "python",
    "golang",
    "ruby",
    "rust",
    "perl",
    "php",
    "openjdk",
    "eclipse-temurin",
    "maven",
    "gradle",
    "gcc",
    "elixir",
    "erlang",
    "haskell",
    "julia",
    "r-base",
    "clojure",
    "swift",
    "groovy",
    "pypy",
    "ibmjava",
    "sapmachine",
    "mono",
    "dart",
    "tomcat",
    "jetty",
    "node",
    "django",
    "ghost",
}
_RHEL_OFFICIAL = {"fedora", "centos", "rockylinux", "almalinux", "oraclelinux"}
# Tags of minimal variants that ship no useradd (ubi-minimal, ubi-micro, -micro, oraclelinux slim).
_NO_USER_TOOLS_TAGS = ("minimal", "micro")


def profile_for(ref: ImageRef) -> ImageProfile | None:
    """What is known about a base image, or None when nothing is."""
    tag = (ref.tag or "").lower()
    name, repo, registry = ref.name, ref.repository, ref.registry
    if any(w in tag for w in ("windowsservercore", "nanoserver", "ltsc")) or (
        registry == "mcr.microsoft.com" and repo.startswith("windows")
    ):
        return ImageProfile(windows=True)
    alpine_tag = "alpine" in tag
    tools = "alpine" if alpine_tag else None

    if registry == "gcr.io" and repo.startswith("distroless/"):
        if "nonroot" in tag:
            return ImageProfile(runs_as_non_root=True)
        return ImageProfile(shipped_user=User("nonroot", 65532, 65532))
    if registry == "cgr.dev" and repo.startswith("chainguard/"):
        return ImageProfile(runs_as_non_root=True)
    if repo.startswith("bitnami/") or (repo.startswith("nginxinc/") and "unprivileged" in repo):
        return ImageProfile(runs_as_non_root=True)
    if repo in ("jenkins/jenkins", "grafana/grafana", "prom/prometheus", "prom/alertmanager"):
        return ImageProfile(runs_as_non_root=True)
    if repo == "oven/bun":
        return ImageProfile(shipped_user=User("bun", 1000, 1000), user_tools=tools or "debian")
    if repo == "denoland/deno":
        return ImageProfile(shipped_user=User("deno", 1993, 1993), user_tools=tools or "debian")
    if registry == "mcr.microsoft.com" and repo.startswith("dotnet/"):
        major = re.match(r"(\d+)", tag)
        if "chiseled" in tag or "distroless" in tag:
            return ImageProfile(runs_as_non_root=True)
        if major and int(major.group(1)) >= 8:
            return ImageProfile(shipped_user=User("app", 1654, 1654), user_tools=tools or "debian")
        return ImageProfile(user_tools=tools or "debian")
    if registry == "registry.access.redhat.com" or repo.startswith("redhat/"):
        # ubi-minimal and ubi-micro ship no useradd.
        return ImageProfile(user_tools=None if ("minimal" in repo or "micro" in repo) else "rhel")
    if not ref.is_official:
        return None
    if name in _STARTS_AS_ROOT or (name == "php" and ("apache" in tag or "fpm" in tag)):
        return ImageProfile(starts_as_root=_STARTS_AS_ROOT.get(name, _BINDS_AS_ROOT), user_tools=tools)
    if name in _NON_ROOT_OFFICIAL:
        return ImageProfile(runs_as_non_root=True)
    if name == "node":
        return ImageProfile(shipped_user=User("node", 1000, 1000), user_tools=tools or "debian")
    if name in ("alpine", "busybox", "bash", "composer"):  # bash and composer build on Alpine
        return ImageProfile(user_tools="alpine")
    if any(w in tag for w in _NO_USER_TOOLS_TAGS) or (name in _RHEL_OFFICIAL and "slim" in tag):
        return ImageProfile(user_tools=tools)
    if name in _RHEL_OFFICIAL or "ubi" in tag:
        return ImageProfile(user_tools="rhel")
    if name in _DEBIAN_OFFICIAL:
        return ImageProfile(user_tools=tools or "debian")
    if any(w in tag for w in _DEBIAN_TAG_WORDS):
        return ImageProfile(user_tools="debian")
    return ImageProfile(user_tools=tools) if tools else None


@dataclass(frozen=True)
class RuntimeNeeds:
    """What a popular image needs at run time, for compose hardening.

    cap_add: capabilities it needs after `cap_drop: [ALL]` (entrypoints that
    chown their data and step down with gosu need CHOWN, SETUID, SETGID, ...).
    writable: paths it writes outside its volumes, for tmpfs under `read_only`.
    data: its data folders, which must never become tmpfs.
    user: a non-root user it runs correctly as, with `user:`.
    """

    cap_add: tuple[str, ...]
    writable: tuple[str, ...] | None = None
    data: tuple[str, ...] = ()
    user: str | None = None


_GOSU_DB = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID")
RUNTIME_NEEDS: dict[str, RuntimeNeeds] = {
    # docker-library/postgres#649, #907: the entrypoint chowns PGDATA and steps down with gosu.
    "postgres": RuntimeNeeds(
        ("CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "SETGID", "SETUID"),
        ("/var/run/postgresql", "/tmp"),
        ("/var/lib/postgresql", "/var/lib/postgresql/data"),
        "postgres",
    ),
    "mysql": RuntimeNeeds(_GOSU_DB, ("/var/run/mysqld", "/run/mysqld", "/tmp"), ("/var/lib/mysql",), "mysql"),
    "mariadb": RuntimeNeeds(_GOSU_DB, ("/run/mysqld", "/tmp"), ("/var/lib/mysql",), "mysql"),
    # redis/docker-library-redis#175: `find . ! -user redis -exec chown redis` then gosu.
    "redis": RuntimeNeeds(("CHOWN", "SETGID", "SETUID"), ("/tmp",), ("/data",), "redis"),
    "mongo": RuntimeNeeds(
        ("CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID"), ("/tmp",), ("/data/db", "/data/configdb"), "mongodb"
    ),
    # Verified on nginx:1.27-alpine: the master starts as root and workers switch to nginx.
    "nginx": RuntimeNeeds(("CHOWN", "SETGID", "SETUID"), ("/var/cache/nginx", "/var/run", "/tmp")),
    "httpd": RuntimeNeeds(("CHOWN", "SETGID", "SETUID"), ("/usr/local/apache2/logs", "/tmp")),
    "nginxinc/nginx-unprivileged": RuntimeNeeds((), ("/tmp",)),
    "memcached": RuntimeNeeds((), ()),
}


def runtime_needs(reference: str | None, extra: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> RuntimeNeeds | None:
    """The table entry for an image reference (configured entries first), or None."""
    if not reference:
        return None
    ref = ImageRef.parse(reference)
    short = ref.repository.removeprefix("library/")
    for name, caps in extra:
        if name.lower() in (short, ref.name, f"{ref.registry}/{ref.repository}"):
            known = RUNTIME_NEEDS.get(short)
            return RuntimeNeeds(
                tuple(caps),
                known.writable if known else None,
                known.data if known else (),
                known.user if known else None,
            )
    if ref.is_official or ref.registry == DOCKER_HUB:
        return RUNTIME_NEEDS.get(short)
    return None
