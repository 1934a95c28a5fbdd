"""Who builds what: the images each Dockerfile makes, the builds that start from them, the target shipped.

Read from the repository's own files: compose `build:` sections, `docker build` commands in Makefiles
and CI workflows, `docker/build-push-action` steps, and the other Dockerfiles' FROM lines. Pure.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass

from hardener.evidence.repository import Repository, join, normalise


@dataclass(frozen=True)
class Build:
    """One place that builds a Dockerfile: where it says so, the context, the target and the image name."""

    where: str  # "compose.yaml (service web)", "Makefile", ".github/workflows/ci.yml"
    dockerfile: str  # repository path
    context: str
    target: str | None = None
    image: str | None = None
    service: tuple[str, str] | None = None  # (compose file, service) for a compose `build:`


def builds(repository: Repository) -> list[Build]:
    cached = repository.cache.get("builds")
    if cached is None:
        cached = repository.cache["builds"] = [*_compose_builds(repository), *_command_builds(repository)]
    return cached


def builds_of(repository: Repository, dockerfile: str) -> list[Build]:
    dockerfile = normalise(dockerfile)
    return [b for b in builds(repository) if b.dockerfile == dockerfile]


def contexts_of(repository: Repository, dockerfile: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(b.context for b in builds_of(repository, dockerfile)))


def shipped_targets(repository: Repository, dockerfile: str) -> dict[str, str]:
    """The stages that builds name as their target, with where each is named."""
    return {b.target: b.where for b in builds_of(repository, dockerfile) if b.target}


def built_on(repository: Repository, compose_path: str, service: str) -> str | None:
    """The image a compose service's build starts FROM, when the stage it ships sets no USER, ENTRYPOINT
    or CMD of its own: the container then starts as that image does, and needs what it needs."""
    from hardener.dockerfile.document import DockerfileDocument
    from hardener.model import InputError

    compose_path = normalise(compose_path)
    build = next((b for b in builds(repository) if b.service == (compose_path, service)), None)
    text = repository.text(build.dockerfile) if build is not None else None
    if build is None or text is None:
        return None
    try:
        document = DockerfileDocument(text, build.dockerfile)
    except InputError:
        return None
    target = build.target.lower() if build.target else None
    stages = [s for s in document.stages if target is None or (s.alias or "").lower() == target]
    if not stages:
        return None
    lineage = stages[-1].lineage
    if any(i.keyword in ("USER", "ENTRYPOINT", "CMD") for stage in lineage for i in stage.instructions):
        return None
    root = lineage[-1]
    return root.base_resolved if root.base_resolved and "$" not in root.base_resolved else None


def _name(image: str) -> str:
    """An image reference without its tag or digest, for comparing names."""
    image = image.split("@", 1)[0]
    last = image.rsplit("/", 1)
    if ":" in last[-1]:
        image = image[: image.rindex(":")]
    return image.lower().removeprefix("docker.io/").removeprefix("library/")


def consumers(repository: Repository, dockerfile: str) -> list[tuple[str, str]]:
    """(Dockerfile, image) for each other Dockerfile in the repository whose FROM names an image this one builds."""
    dockerfile = normalise(dockerfile)
    names = {_name(b.image) for b in builds_of(repository, dockerfile) if b.image and "$" not in b.image}
    if not names:
        return []
    found = []
    for path, text in repository.files.items():
        if path == dockerfile or not _is_dockerfile(path):
            continue
        for match in re.finditer(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", text, re.M | re.I):
            if _name(match.group(1)) in names:
                found.append((path, match.group(1)))
                break
    return found


def _is_dockerfile(path: str) -> bool:
    from hardener.kinds import kind_of_name

    return kind_of_name(posixpath.basename(path)) == "dockerfile"


def _compose_builds(repository: Repository):
    from hardener.kinds import kind_of_name
    from hardener.model import InputError

    for path, text in sorted(repository.files.items()):
        if kind_of_name(posixpath.basename(path)) != "compose":
            continue
        from hardener.compose.document import ComposeDocument

        try:
            document = ComposeDocument(text, path)
        except InputError:
            continue
        folder = posixpath.dirname(path)
        for service in document.services:
            build = service.get("build")
            if build is None:
                continue
            node = build.resolved
            context, dockerfile, target = ".", "Dockerfile", None
            if node.kind == "scalar":
                context = node.text_value or "."
            elif node.kind == "map":
                for key in ("context", "dockerfile", "target"):
                    value = node.get(key)
                    if value is not None and value.text_value:
                        if key == "context":
                            context = value.text_value
                        elif key == "dockerfile":
                            dockerfile = value.text_value
                        else:
                            target = value.text_value
            if "$" in context or "://" in context or "$" in dockerfile:
                continue
            context_path = join(folder, context)
            dockerfile_path = join(context_path, dockerfile) if context_path is not None else None
            if context_path is None or dockerfile_path is None:
                continue
            yield Build(
                f"`{path}` (service `{service.name}`)",
                dockerfile_path,
                context_path,
                target,
                service.scalar("image"),
                (path, service.name),
            )


_DOCKER_BUILD = re.compile(r"\bdocker\s+(?:image\s+build|buildx\s+build|build)\b(?P<args>[^\n;&|]*)")


def _command_builds(repository: Repository):
    """`docker build` commands in Makefiles, scripts and CI files, and build-push-action steps."""
    for path, text in sorted(repository.files.items()):
        base = posixpath.basename(path).lower()
        if not (
            base in ("makefile", "gnumakefile", "justfile", ".gitlab-ci.yml")
            or base.endswith((".mk", ".sh"))
            or path.startswith(".github/workflows/")
        ):
            continue
        joined = re.sub(r"\\\n\s*", " ", text)
        for match in _DOCKER_BUILD.finditer(joined):
            build = _parse_build_args(path, match.group("args"))
            if build is not None:
                yield build
        if path.startswith(".github/workflows/"):
            yield from _build_push_steps(path, text)


def _parse_build_args(where: str, args: str) -> Build | None:
    try:
        words = shlex.split(args)
    except ValueError:
        return None
    tag = file = target = None
    positional = []
    i = 0
    while i < len(words):
        word = words[i]
        value = words[i + 1] if i + 1 < len(words) else None
        for short, long in (("-t", "--tag"), ("-f", "--file"), (None, "--target")):
            if word in (short, long) and value is not None:
                if long == "--tag":
                    tag = tag or value
                elif long == "--file":
                    file = value
                else:
                    target = value
                i += 1
                break
            if word.startswith(long + "="):
                value = word.split("=", 1)[1]
                tag, file, target = (
                    (tag or value, file, target)
                    if long == "--tag"
                    else (tag, value, target)
                    if long == "--file"
                    else (tag, file, value)
                )
                break
        else:
            if not word.startswith("-"):
                positional.append(word)
        i += 1
    context = positional[-1] if positional else "."
    if any("$" in (w or "") for w in (context, file)) or "://" in context:
        return None
    context_path = join("", context)
    if context_path is None:
        return None
    dockerfile = join("", file) if file else join(context_path, "Dockerfile")
    if dockerfile is None:
        return None
    return Build(f"`{where}`", dockerfile, context_path, target, tag)


def _build_push_steps(where: str, text: str):
    for step in re.split(r"\n\s*-\s+(?=name:|uses:)", text):
        if "docker/build-push-action" not in step:
            continue
        values = {
            key: m.group(1).strip().strip("'\"")
            for key in ("file", "context", "target", "tags")
            if (m := re.search(rf"^\s*{key}:\s*(\S[^\n#]*)", step, re.M))
        }
        context = values.get("context", ".")
        if "$" in context or "://" in context:
            continue
        context_path = join("", context)
        dockerfile = join("", values["file"]) if "file" in values else join(context_path or "", "Dockerfile")
        if context_path is None or dockerfile is None:
            continue
        tag = values.get("tags", "").split(",")[0].strip() or None
        yield Build(f"`{where}`", dockerfile, context_path, values.get("target"), tag)
