"""Calls that start containers with the docker SDK, located in a Python module.

libcst parses the module losslessly; this module only finds the calls
(`<client>.containers.run(...)` / `.create(...)`) on clients made by
`docker.from_env()`, `docker.DockerClient(...)` or `docker.client.from_env()`,
following imports with aliases, simple assignments, functions that return a
client and parameters and attributes annotated as `docker.DockerClient`; and the
low-level API's `<api client>.create_container(..., host_config=...)`, whose
host settings live in a `create_host_config(...)` call written inline or bound
to a name earlier. Unknown objects are not guessed at. Fixes are still text
edits at exact offsets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from hardener.model import InputError
from hardener.textedit import LineIndex, detect_eol

_IMPORTS_DOCKER = re.compile(r"^[ \t]*(?:import[ \t]+docker\b|from[ \t]+docker\b)", re.M)
_CONSTRUCTORS = ("from_env", "DockerClient", "client.from_env", "client.DockerClient")
_API_CONSTRUCTORS = ("APIClient", "api.APIClient", "api.client.APIClient")
CONTAINER_METHODS = ("run", "create")
LOW_LEVEL_METHOD = "create_container"
# Keywords of the high-level `containers.run()` that the low-level API takes in
# `create_host_config()`, under the name it gives them there.
HOST_CONFIG_KEYWORDS = {
    "volumes": "binds",
    **{
        name: name
        for name in (
            "cap_add",
            "cap_drop",
            "privileged",
            "read_only",
            "mem_limit",
            "memswap_limit",
            "pids_limit",
            "nano_cpus",
            "cpu_quota",
            "cpu_period",
            "cpu_shares",
            "cpu_count",
            "cpuset_cpus",
            "security_opt",
            "network_mode",
            "pid_mode",
            "ipc_mode",
            "userns_mode",
            "uts_mode",
            "tmpfs",
            "devices",
            "port_bindings",
            "ulimits",
        )
    },
}


def imports_docker(text: str) -> bool:
    """The fast path: only modules that import docker are parsed."""
    return bool(_IMPORTS_DOCKER.search(text))


@dataclass
class Argument:
    name: str | None  # keyword name, None for positional
    value: object  # the libcst expression
    start: int  # offsets of the whole argument in the text
    end: int
    line: int
    column: int
    has_comma: bool
    star: str = ""  # "*" or "**"


@dataclass
class SdkCall:
    method: str  # run, create, or create_container (the low-level API)
    line: int
    start: int  # offsets of the call
    end: int
    arguments: list[Argument] = field(default_factory=list)
    # The low-level API only: the `create_host_config(...)` call that holds the host settings, or None
    # when the container call passes none.
    host_config: SdkCall | None = None
    client: str = ""  # the low-level API only: the client expression as written (`self.api`)

    @property
    def low_level(self) -> bool:
        return self.method == LOW_LEVEL_METHOD

    @property
    def label(self) -> str:
        """How findings name the call."""
        return f"{self.method}()" if self.low_level else f"containers.{self.method}()"

    def owner_of(self, name: str) -> tuple[SdkCall | None, str]:
        """(the call that takes keyword `name`, the name it takes it under): the host config for host
        settings of a low-level call (None when there is none), else this call."""
        if self.low_level and name in HOST_CONFIG_KEYWORDS:
            return self.host_config, HOST_CONFIG_KEYWORDS[name]
        return self, name

    def keyword(self, name: str) -> Argument | None:
        owner, name = self.owner_of(name)
        if owner is None:
            return None
        return next((a for a in owner.arguments if a.name == name), None)

    @property
    def has_star_kwargs(self) -> bool:
        own = any(a.star == "**" for a in self.arguments)
        return own or (self.host_config is not None and self.host_config.has_star_kwargs)

    @property
    def scope(self) -> tuple[int, int]:
        """The text a fix to this call may touch: the call, and its host config wherever it is written."""
        if self.host_config is None:
            return self.start, self.end
        return min(self.start, self.host_config.start), max(self.end, self.host_config.end)

    @property
    def image_argument(self) -> Argument | None:
        keyword = self.keyword("image")
        if keyword is not None:
            return keyword
        positional = [a for a in self.arguments if a.name is None and not a.star]
        return positional[0] if positional else None


class PythonDocument:
    def __init__(self, text: str, path: str = "module.py"):
        self.text = text
        self.path = path
        self.index = LineIndex(text)
        self.eol = detect_eol(text)
        self.calls: list[SdkCall] = []
        self.quote = '"' if text.count('"') >= text.count("'") else "'"
        if imports_docker(text):
            self._parse()

    @cached_property
    def comment_lines(self) -> list[str]:
        """Whole-line comments that may be file-wide pragmas (each finding reads them all: once per file)."""
        from hardener.suppressions import whole_line_comments

        return list(dict.fromkeys(c for c in whole_line_comments(self.text) if "global" in c and "ignore" in c))

    def comments_for(self, line: int) -> tuple[str, ...]:
        """`# hardener: ignore=HD302` above the call, or at the end of its first line."""
        from hardener.suppressions import comments_around

        return comments_around(self.index, line)

    # -- offsets: libcst gives byte spans; edits use character offsets ---------------
    def _char_offset(self, byte_offset: int) -> int:
        if self._ascii:
            return byte_offset
        return len(self._encoded[:byte_offset].decode("utf-8", errors="ignore"))

    def _parse(self) -> None:
        from hardener.python import shape

        bare_cr = re.search(r"\r(?!\n)", self.text)
        if bare_cr:
            # Python reads a lone CR as a line break; hardener's line index does not.
            line = self.text.count("\n", 0, bare_cr.start()) + 1
            raise InputError("bare carriage-return line endings (old Mac style) are not supported", line, self.path)
        shape.check(self.text, self.path)
        try:
            shape.run_with_stack(self._read_calls)
        except RecursionError:
            raise InputError("too deeply nested to analyse", shape.busiest_line(self.text), self.path) from None

    def _read_calls(self) -> None:
        import libcst as cst
        from libcst.metadata import ByteSpanPositionProvider, MetadataWrapper, PositionProvider

        try:
            module = cst.parse_module(self.text)
        except cst.ParserSyntaxError as exc:
            raise InputError(f"invalid Python: {exc.message}", exc.raw_line, self.path) from None
        self._encoded = self.text.encode("utf-8")
        self._ascii = len(self._encoded) == len(self.text)
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        spans = wrapper.resolve(ByteSpanPositionProvider)
        positions = wrapper.resolve(PositionProvider)
        finder = _CallFinder()
        wrapper.visit(finder)

        def sdk_call(call, method: str) -> SdkCall:
            span = spans[call]
            start = self._char_offset(span.start)
            sdk = SdkCall(method, positions[call].start.line, start, self._char_offset(span.start + span.length))
            for arg in call.args:
                arg_span = spans[arg]
                sdk.arguments.append(
                    Argument(
                        name=arg.keyword.value if arg.keyword is not None else None,
                        value=arg.value,
                        start=self._char_offset(arg_span.start),
                        end=self._char_offset(arg_span.start + arg_span.length),
                        line=positions[arg].start.line,
                        column=positions[arg].start.column,
                        has_comma=isinstance(arg.comma, cst.Comma),
                        star=arg.star if isinstance(arg.star, str) else "",
                    )
                )
            return sdk

        calls = []
        for call, method, host_config in finder.calls:
            sdk = sdk_call(call, method)
            if host_config is not None:
                sdk.host_config = sdk_call(host_config, "create_host_config")
            if method == LOW_LEVEL_METHOD:
                client_span = spans[call.func.value]
                start = self._char_offset(client_span.start)
                sdk.client = self.text[start : self._char_offset(client_span.start + client_span.length)]
            calls.append(sdk)
        self.calls = calls
        self._spans = spans

    def span_of(self, node) -> tuple[int, int]:
        span = self._spans[node]
        return self._char_offset(span.start), self._char_offset(span.start + span.length)


def _dotted(node) -> str | None:
    """a.b.c for Name/Attribute chains, else None."""
    import libcst as cst

    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


class _CallFinder:
    """Collects docker SDK container calls; built lazily so libcst loads only when needed."""

    def __new__(cls) -> Any:  # a libcst visitor, whose class exists only once libcst is imported
        import libcst as cst

        class Finder(cst.CSTVisitor):
            def __init__(self) -> None:
                super().__init__()
                self.modules: set[str] = set()  # names bound to the docker module
                self.constructors: set[str] = set()  # names bound to from_env / DockerClient
                self.clients: set[str] = set()  # dotted names holding a client
                self.collections: set[str] = set()  # dotted names holding client.containers
                self.factories: set[str] = set()  # functions returning a client
                self.api_constructors: set[str] = set()  # names bound to APIClient
                self.api_clients: set[str] = set()  # dotted names holding a low-level client
                self.host_configs: dict[str, Any] = {}  # dotted name -> the create_host_config call bound to it
                self.calls: list = []
                self._function: list = []
                self._classes: list[int] = []  # for each enclosing class, how many functions enclose it

            # imports
            def visit_Import(self, node):
                for alias in node.names:
                    if _dotted(alias.name) in ("docker", "docker.client"):
                        name = alias.asname.name.value if alias.asname else "docker"
                        self.modules.add(name)

            def visit_ImportFrom(self, node):
                module = _dotted(node.module) if node.module else None
                if module not in ("docker", "docker.client") or isinstance(node.names, cst.ImportStar):
                    return
                for alias in node.names:
                    name = alias.name.value
                    bound = alias.asname.name.value if alias.asname else name
                    if name in ("from_env", "DockerClient"):
                        self.constructors.add(bound)
                    elif name == "APIClient":
                        self.api_constructors.add(bound)
                    elif name == "client":
                        self.modules.add(bound)

            # what an expression is
            def is_client(self, node) -> bool:
                if isinstance(node, cst.Call):
                    func = _dotted(node.func)
                    if func is None:
                        return False
                    if func in self.constructors or func in self.factories:
                        return True
                    head, _, rest = func.partition(".")
                    return head in self.modules and rest in _CONSTRUCTORS
                name = _dotted(node)
                return name is not None and name in self.clients

            def is_api_client(self, node) -> bool:
                """`docker.APIClient(...)`, a name holding one, or a high-level client's `.api`."""
                if isinstance(node, cst.Call):
                    func = _dotted(node.func)
                    if func is None:
                        return False
                    head, _, rest = func.partition(".")
                    return func in self.api_constructors or (head in self.modules and rest in _API_CONSTRUCTORS)
                if isinstance(node, cst.Attribute) and node.attr.value == "api" and self.is_client(node.value):
                    return True
                name = _dotted(node)
                return name is not None and name in self.api_clients

            def is_host_config(self, node) -> bool:
                return (
                    isinstance(node, cst.Call)
                    and isinstance(node.func, cst.Attribute)
                    and node.func.attr.value == "create_host_config"
                    and self.is_api_client(node.func.value)
                )

            def is_collection(self, node) -> bool:
                if isinstance(node, cst.Attribute) and node.attr.value == "containers":
                    return self.is_client(node.value)
                name = _dotted(node)
                return name is not None and name in self.collections

            # bindings, in source order
            def visit_Assign(self, node):
                self._bind([t.target for t in node.targets], node.value)

            def visit_AnnAssign(self, node):
                if node.value is not None:
                    self._bind([node.target], node.value)
                kind = self.client_type(node.annotation.annotation)
                name = _dotted(node.target)
                if kind and name is not None:
                    # `client: DockerClient` in a class body is the instances' `self.client`.
                    in_class_body = self._classes and len(self._function) == self._classes[-1]
                    bound = f"self.{name}" if in_class_body and "." not in name else name
                    (self.clients if kind == "DockerClient" else self.api_clients).add(bound)

            def client_type(self, node) -> str | None:
                """`DockerClient` or `APIClient` when an annotation names one of docker's client classes."""
                name = _dotted(node)
                if name is None:
                    return None
                head, _, rest = name.rpartition(".")
                if head == "":  # `from docker import DockerClient`
                    if name in self.constructors:
                        return "DockerClient"
                    return "APIClient" if name in self.api_constructors else None
                if rest in ("DockerClient", "APIClient") and (
                    head in self.modules or head in ("docker.client", "docker.api", "docker.api.client")
                ):
                    return rest
                return None

            def visit_ClassDef(self, node):
                self._classes.append(len(self._function))

            def leave_ClassDef(self, original_node):
                self._classes.pop()

            def _bind(self, targets, value):
                for target in targets:
                    name = _dotted(target)
                    if name is None:
                        continue
                    if self.is_client(value):
                        self.clients.add(name)
                    elif self.is_collection(value):
                        self.collections.add(name)
                    elif self.is_api_client(value):
                        self.api_clients.add(name)
                    elif self.is_host_config(value):
                        self.host_configs[name] = value
                    else:
                        self.host_configs.pop(name, None)  # rebound to something else

            def visit_FunctionDef(self, node):
                self._function.append(node.name.value)
                for param in [*node.params.params, *node.params.kwonly_params]:
                    annotation = _dotted(param.annotation.annotation) if param.annotation else None
                    kind = annotation.rsplit(".", 1)[-1] if annotation else None
                    if kind == "DockerClient":
                        self.clients.add(param.name.value)
                    elif kind == "APIClient":
                        self.api_clients.add(param.name.value)

            def leave_FunctionDef(self, original_node):
                self._function.pop()

            def visit_Return(self, node):
                if self._function and node.value is not None and self.is_client(node.value):
                    self.factories.add(self._function[-1])

            def visit_Call(self, node):
                func = node.func
                if (
                    isinstance(func, cst.Attribute)
                    and func.attr.value in CONTAINER_METHODS
                    and self.is_collection(func.value)
                ):
                    self.calls.append((node, func.attr.value, None))
                elif (
                    isinstance(func, cst.Attribute)
                    and func.attr.value == LOW_LEVEL_METHOD
                    and self.is_api_client(func.value)
                ):
                    self.low_level_call(node)

            def low_level_call(self, node):
                """A `create_container` call, with its host config when that is known; skipped when the
                host config comes from somewhere this reading does not follow."""
                argument = next(
                    (a for a in node.args if a.keyword is not None and a.keyword.value == "host_config"), None
                )
                if any(a.star == "**" for a in node.args if isinstance(a.star, str)) and argument is None:
                    return  # **kwargs may carry a host config
                if argument is None:
                    self.calls.append((node, LOW_LEVEL_METHOD, None))
                    return
                value = argument.value
                if self.is_host_config(value):
                    self.calls.append((node, LOW_LEVEL_METHOD, value))
                    return
                name = _dotted(value)
                if name is not None and name in self.host_configs:
                    self.calls.append((node, LOW_LEVEL_METHOD, self.host_configs[name]))

        return Finder()
