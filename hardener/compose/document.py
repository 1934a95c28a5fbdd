"""A located view of a compose file.

ruamel.yaml's parser reads the file into events, each with exact character
offsets; this module builds a light tree from them (aliases stay aliases,
with their own positions) so fixes can be written as text edits. The file is
never re-serialised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from hardener.model import InputError
from hardener.textedit import LineIndex, detect_eol

MERGE_KEY = "<<"
# The Compose specification's top-level keys, besides x- extensions.
_TOP_LEVEL_KEYS = frozenset(
    {"version", "name", "include", "services", "networks", "volumes", "configs", "secrets", "models"}
)
MAX_DEPTH = 200  # deeper nesting is refused (no compose file needs it; it guards the reader's stack)
MAX_EXPANDED_NODES = 1_000_000  # what the file means once aliases are expanded, as Compose would
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?+]([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(eq=False)
class Node:
    kind: str  # "map", "seq", "scalar" or "alias"
    start: int
    end: int
    line: int  # 1-based
    column: int  # 0-based
    anchor: str | None = None
    flow: bool = False  # flow style: {a: b} or [a, b]
    style: str | None = None  # scalar style: None (plain), "'", '"', "|", ">"
    value: str = ""  # scalar value; alias name for aliases
    items: list = field(default_factory=list)  # map: [(key, value)]; seq: [node]
    target: Node | None = None  # what an alias refers to
    tag: str | None = None  # an explicit tag such as !reset or !override

    @property
    def resolved(self) -> Node:
        return self.target if self.kind == "alias" and self.target is not None else self

    def get(self, key: str) -> Node | None:
        """A key's value in a mapping, looking through merge keys (own keys first)."""
        node = self.resolved
        if node.kind != "map":
            return None
        for k, v in node.items:
            if k.kind == "scalar" and k.value == key:
                return v
        # Depth first, as Compose merges: each merged mapping, then the ones it merges.
        # A loop, not recursion: a chain of merges may be longer than Python's stack allows.
        pending, seen = node.merge_sources()[::-1], {id(node)}
        while pending:
            node = pending.pop()
            if id(node) in seen:
                continue  # reached again through another merge: its keys were looked at
            seen.add(id(node))
            for k, v in node.items:
                if k.kind == "scalar" and k.value == key:
                    return v
            pending.extend(reversed(node.merge_sources()))
        return None

    def own(self, key: str) -> tuple[Node, Node] | None:
        node = self.resolved
        for k, v in node.items if node.kind == "map" else ():
            if k.kind == "scalar" and k.value == key:
                return k, v
        return None

    def merge_sources(self) -> list[Node]:
        """Mappings merged in with `<<: *anchor` or `<<: [*a, *b]`."""
        node = self.resolved
        out: list[Node] = []
        for k, v in node.items if node.kind == "map" else ():
            if k.kind == "scalar" and k.value == MERGE_KEY and k.style is None:
                values = v.resolved.items if v.resolved.kind == "seq" else [v]
                out.extend(x.resolved for x in values if x.resolved.kind == "map")
        return out

    def keys(self) -> list[str]:
        node = self.resolved
        return [k.value for k, _ in node.items if k.kind == "scalar"] if node.kind == "map" else []

    @property
    def text_value(self) -> str | None:
        node = self.resolved
        return node.value if node.kind == "scalar" else None


@dataclass
class Service:
    name: str
    key: Node
    node: Node  # the service's value: a mapping, or an alias to one
    # The service this one `extends` in the same file: it inherits that service's
    # settings (and fixes), and Compose merges their lists.
    base: Service | None = None
    _found: dict = field(default_factory=dict, repr=False, compare=False)  # key -> value, once looked up

    @property
    def mapping(self) -> Node:
        return self.node.resolved

    @property
    def is_alias(self) -> bool:
        return self.node.kind == "alias"

    def get(self, key: str) -> Node | None:
        """A key's value in the service, or in the services it extends.

        A loop, not recursion, as chains can be long; each service remembers the answers
        it learns on the way, so asking every service of a long chain stays linear.
        """
        walked: list[Service] = []
        service: Service | None = self
        found: Node | None = None
        while service is not None:
            if key in service._found:
                found = service._found[key]
                break
            walked.append(service)
            found = service.node.get(key)
            if found is not None:
                break
            service = service.base
        for each in walked:
            each._found[key] = found
        return found

    def scalar(self, key: str) -> str | None:
        node = self.get(key)
        return node.text_value if node is not None else None


class ComposeDocument:
    def __init__(self, text: str, path: str = "compose.yaml"):
        self.text = text
        self.path = path
        self.index = LineIndex(text)
        self.eol = detect_eol(text)
        self.anchors: dict[str, Node] = {}
        self.aliases: list[Node] = []
        self._sharers: dict[int, list] = {}
        self._families: dict[str, list[str]] = {}
        self._users_of_key: dict[str, dict[int, list[Service]]] = {}
        self.root = self._parse()
        self._refuse_alias_bombs()
        self.services = self._services()

    # -- parsing -----------------------------------------------------------
    def _parse(self) -> Node | None:
        if not self.text.strip():
            raise InputError("empty file", 1, self.path)
        bare_cr = re.search(r"\r(?!\n)", self.text)
        if bare_cr:
            line = self.index.line_of(bare_cr.start())
            raise InputError("bare carriage-return line endings (old Mac style) are not supported", line, self.path)
        try:
            events = parse_events(self.text)
        except Exception as exc:  # both parsers raise their own YAMLError classes
            if not _is_yaml_error(exc):
                raise
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            position = getattr(exc, "position", None)
            if mark is not None:
                line = mark.line + 1
            elif isinstance(position, int):  # a reader error: a character YAML forbids
                line = self.index.line_of(position)
            else:
                line = 0
            problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc).splitlines()[0]
            character = getattr(exc, "character", None)
            if character is not None:
                problem = f"{problem} {character!r}"
            raise InputError(f"invalid YAML: {problem}", line, self.path) from None
        documents = [i for i, e in enumerate(events) if type(e).__name__ == "DocumentStartEvent"]
        if not documents:
            # Docker Compose refuses it too ("empty compose file"), as hardener refuses a blank file.
            raise InputError("empty file: only comments", 1, self.path)
        if len(documents) > 1:
            raise InputError(
                "more than one YAML document in a compose file (the second starts here): hardener reads one per file",
                self._line_of(events[documents[1]]),
                self.path,
            )
        self._events = events
        self._building: list[Node] = []  # collections being read, to catch aliases to their ancestors
        self._pos = documents[0] + 1
        empty = InputError("empty file: only comments and `---`", self._line_of(events[documents[0]]), self.path)
        if self._kind(self._events[self._pos]) == "DocumentEnd":
            raise empty
        root = self._node()
        if root.kind == "scalar" and root.style is None and root.value == "" and not root.anchor and not root.tag:
            raise empty
        return root

    @staticmethod
    def _kind(event) -> str:
        return type(event).__name__.removesuffix("Event")

    def _line_of(self, event) -> int:
        return event.start_mark.line + 1

    def _node(self) -> Node:
        event = self._events[self._pos]
        self._pos += 1
        kind = self._kind(event)
        mark = event.start_mark
        common = dict(start=mark.index, line=mark.line + 1, column=mark.column, anchor=getattr(event, "anchor", None))
        if kind == "Alias":
            node = Node("alias", end=event.end_mark.index, value=event.anchor, **{**common, "anchor": None})
            node.target = self.anchors.get(event.anchor)
            if node.target is None:
                raise InputError(f"alias *{event.anchor} names no anchor", node.line, self.path)
            if any(node.target is open_node for open_node in self._building):
                raise InputError(
                    f"alias *{event.anchor} refers to a mapping that contains it (a cycle)", node.line, self.path
                )
            self.aliases.append(node)
            return node
        if kind == "Scalar":
            # ruamel.yaml can place an empty value at the end of the file one past its end: clamp it.
            end = min(event.end_mark.index, len(self.text))
            common["start"] = min(common["start"], end)
            value = event.value
            if event.style == ">":
                value = value.replace("\a", "")  # ruamel.yaml marks folds with BEL; libyaml does not
            node = Node("scalar", end=end, style=event.style or None, value=value, **common)
        elif kind in ("MappingStart", "SequenceStart"):
            if len(self._building) >= MAX_DEPTH:
                raise InputError(f"nested deeper than {MAX_DEPTH} levels", common["line"], self.path)
            node = Node("map" if kind == "MappingStart" else "seq", end=0, flow=bool(event.flow_style), **common)
            if node.anchor:
                self.anchors[node.anchor] = node  # visible to aliases inside it, as YAML allows
            self._building.append(node)
            seen: dict[str, int] = {}
            while self._kind(self._events[self._pos]) not in ("MappingEnd", "SequenceEnd"):
                if node.kind == "map":
                    key = self._node()
                    value = self._node()
                    if value.kind == "scalar" and value.style is None and value.value == "":
                        # An empty value has no text: place it right after its key, whichever parser read it.
                        value.start = value.end = key.end
                        value.line, value.column = key.line, key.column + (key.end - key.start)
                    if key.kind == "scalar" and key.value != MERGE_KEY:
                        if key.value in seen:
                            raise InputError(
                                f"duplicate key {key.value!r} (first on line {seen[key.value]})", key.line, self.path
                            )
                        seen[key.value] = key.line
                    node.items.append((key, value))
                else:
                    node.items.append(self._node())
            node.end = self._events[self._pos].end_mark.index if node.flow else self._content_end(node)
            self._pos += 1
            self._building.pop()
        else:
            raise InputError(f"unexpected YAML event {kind}", common["line"], self.path)
        tag = getattr(event, "tag", None)
        if tag and tag.startswith("!") and not tag.startswith("!!"):
            node.tag = tag
        if node.anchor:
            self.anchors[node.anchor] = node
        return node

    def _refuse_alias_bombs(self) -> None:
        """Aliases that expand to an enormous tree (billion laughs) are refused before anything reads them.

        Each node's expanded size is counted once (a loop, children before parents), so the
        count is linear in the file however deep its aliases reach.
        """
        if not self.aliases or self.root is None:
            return
        sizes: dict[int, int] = {}
        pending: list[tuple[Node, bool]] = [(self.root, False)]
        while pending:
            node, children_done = pending.pop()
            node = node.resolved
            children = [x for pair in node.items for x in pair] if node.kind == "map" else node.items
            if children_done:
                sizes[id(node)] = 1 + sum(sizes[id(child.resolved)] for child in children)
                if sizes[id(node)] > MAX_EXPANDED_NODES:
                    raise InputError(
                        f"its aliases expand to more than {MAX_EXPANDED_NODES:,} nodes (an alias bomb?)", 1, self.path
                    )
            elif id(node) not in sizes:
                sizes[id(node)] = 1  # guards against cycles (already refused while parsing)
                pending.append((node, True))
                pending.extend((child, False) for child in children)

    def _content_end(self, node: Node) -> int:
        """Offset just past the last character of a block collection's content."""
        if not node.items:
            return node.start
        last = node.items[-1][1] if node.kind == "map" else node.items[-1]
        return self.content_end(last)

    def content_end(self, node: Node) -> int:
        """Offset past a node's last non-blank character (block scalars keep trailing blank lines)."""
        end = node.end
        while end > node.start and self.text[end - 1] in " \t\r\n":
            end -= 1
        return end

    def _services(self) -> list[Service]:
        if self.root is None or self.root.kind != "map":
            if self.root is not None:
                raise InputError("a compose file must be a mapping", self.root.line, self.path)
            return []
        services = self.root.get("services")
        if services is None:
            self._refuse_format_v1(self.root)
        if services is None or services.resolved.kind == "scalar" and services.resolved.value in ("", None):
            return []
        if services.resolved.kind != "map":
            raise InputError("`services` must be a mapping", services.line, self.path)
        out = []
        for key, value in services.resolved.items:
            if key.kind != "scalar" or key.value == MERGE_KEY:
                continue
            if value.resolved.kind == "scalar" and value.resolved.value == "":
                continue  # an empty service: nothing to harden
            if value.resolved.kind != "map":
                raise InputError(f"service {key.value!r} must be a mapping", value.line, self.path)
            out.append(Service(key.value, key, value))
        by_name = {s.name: s for s in out}
        for service in out:
            extends = service.node.get("extends")
            if extends is None:
                continue
            if extends.resolved.kind == "scalar":
                service.base = by_name.get(extends.resolved.value)
            elif extends.resolved.kind == "map" and extends.get("file") is None:
                name = extends.get("service")
                base_name = name.text_value if name is not None else None
                service.base = by_name.get(base_name) if base_name is not None else None
        _break_extends_cycles(out)
        return out

    def _refuse_format_v1(self, root: Node) -> None:
        """Services at the top level (Compose file format v1) would otherwise pass with nothing found.

        A v1 service names its `image` or its `build` context; other YAML named on the
        command line (a CI workflow, a Kubernetes manifest) is not mistaken for one.
        """
        for key, value in root.items:
            name = key.value if key.kind == "scalar" else ""
            if name in _TOP_LEVEL_KEYS or name.startswith("x-") or name == MERGE_KEY:
                continue
            build = value.get("build")
            if value.get("image") is not None or (
                build is not None and (build.resolved.kind == "scalar" or build.get("context") is not None)
            ):
                raise InputError(
                    f"Compose file format v1 (service {name!r} at the top level) is not supported; "
                    "put services under `services:`",
                    key.line,
                    self.path,
                )

    def path_of(self, target: Node) -> str | None:
        """The dotted key path where a node is defined (x-app for an anchor under x-app:)."""
        if id(target) not in self._parents:
            return None
        labels = []
        node = target
        while node is not self.root:
            node, label = self._parents[id(node)]
            labels.append(label)
        return ".".join(reversed(labels))

    @cached_property
    def _parents(self) -> dict[int, tuple[Node, str]]:
        """Each node's parent and its key (or index) there, read once for every path_of."""
        if self.root is None:
            return {}
        parents: dict[int, tuple] = {id(self.root): (None, "")}
        pending = [self.root]
        while pending:
            node = pending.pop()
            if node.kind == "map":
                children = [(v, k.value) for k, v in node.items if v.kind != "alias" and k.kind == "scalar"]
            elif node.kind == "seq":
                children = [(item, str(i)) for i, item in enumerate(node.items)]
            else:
                continue
            for child, label in children:
                parents.setdefault(id(child), (node, label))
                pending.append(child)
        return parents

    @cached_property
    def _position(self) -> dict[int, int]:
        return {id(s): i for i, s in enumerate(self.services)}

    @cached_property
    def _extenders(self) -> dict[int, list[Service]]:
        """The services that extend each service directly."""
        out: dict[int, list[Service]] = {}
        for service in self.services:
            if service.base is not None:
                out.setdefault(id(service.base), []).append(service)
        return out

    def _with_extenders(self, services: list[Service]) -> list[Service]:
        """These services and every service that extends one of them (directly or not), in file order."""
        found = {id(s): s for s in services}
        pending = list(services)
        while pending:
            for child in self._extenders.get(id(pending.pop()), ()):
                if id(child) not in found:
                    found[id(child)] = child
                    pending.append(child)
        return sorted(found.values(), key=lambda s: self._position[id(s)])

    def family(self, service: Service) -> list[str]:
        """The service and every service that extends it here: all receive its settings."""
        if service.name not in self._families:
            others = [s.name for s in self._with_extenders([service]) if s is not service]
            self._families[service.name] = [service.name, *others]
        return self._families[service.name]

    def owned_keys(self, service: Service, *keys: str) -> tuple[str, ...]:
        """Model paths a fix to these keys of a service may change."""
        return tuple(f"services.{name}.{key}" for name in self.family(service) for key in keys)

    def owned_keys_of(self, services: list[Service], *keys: str) -> tuple[str, ...]:
        """owned_keys for several services at once, each path once.

        The services sharing a setting are often a whole `extends` chain: asking
        owned_keys of each would name every later link again, quadratic in its length.
        """
        return tuple(f"services.{s.name}.{key}" for s in self._with_extenders(services) for key in keys)

    def services_using(self, key: str, node: Node) -> list[Service]:
        """The services whose `key` is this node (their own, merged or extended), in file order."""
        if key not in self._users_of_key:
            users: dict[int, list[Service]] = {}
            for service in self.services:
                found = service.get(key)
                if found is not None:
                    users.setdefault(id(found), []).append(service)
            self._users_of_key[key] = users
        return self._users_of_key[key].get(id(node), [])

    @property
    def standalone_services(self) -> list[Service]:
        """Services that do not extend another in this file: those carry the fixes."""
        return [s for s in self.services if s.base is None]

    # -- queries -------------------------------------------------------------
    @cached_property
    def style(self):
        from hardener.compose.edits import detect_style

        return detect_style(self)

    @cached_property
    def comment_lines(self) -> list[str]:
        """Whole-line comments that may be file-wide pragmas (each finding reads them all)."""
        from hardener.suppressions import whole_line_comments

        return list(dict.fromkeys(c for c in whole_line_comments(self.text) if "global" in c and "ignore" in c))

    def comments_for(self, line: int) -> tuple[str, ...]:
        """Comments above a line (a contiguous block) and at the end of the line itself."""
        from hardener.suppressions import comments_around

        return comments_around(self.index, line)

    def sharers(self, mapping: Node) -> list[Service]:
        """Every service whose settings come from this mapping, in file order.

        The service whose value it is (or an alias of it), services that merge it
        (also through nested merges), and services that extend any of those.
        """
        key = id(mapping)
        if key not in self._sharers:
            self._sharers[key] = self._with_extenders(self._direct_users.get(key, []))
        return self._sharers[key]

    @cached_property
    def _direct_users(self) -> dict[int, list[Service]]:
        """For each mapping, the services whose value it is or that merge it (also through nested merges)."""
        users: dict[int, list[Service]] = {}
        for service in self.services:
            reached = {id(service.mapping)}
            users.setdefault(id(service.mapping), []).append(service)
            pending = service.mapping.merge_sources()
            while pending:
                source = pending.pop()
                if id(source) not in reached:
                    reached.add(id(source))
                    users.setdefault(id(source), []).append(service)
                    pending.extend(source.merge_sources())
        return users

    def extends_other_file(self, service: Service) -> bool:
        extends = service.node.get("extends")
        return extends is not None and extends.resolved.kind == "map" and extends.get("file") is not None


def _break_extends_cycles(services: list[Service]) -> None:
    """A cycle of `extends` is Compose's error to report: hardener does not follow it.

    Each service is visited once, so long chains cost no more than short ones.
    """
    state: dict[int, bool] = {}  # False: on the chain being walked; True: its chain ends
    for service in services:
        chain: list[Service] = []
        current: Service | None = service
        while current is not None and id(current) not in state:
            state[id(current)] = False
            chain.append(current)
            current = current.base
        if current is not None and state[id(current)] is False:  # the chain came back to itself
            for member in chain[chain.index(current) :]:
                member.base = None
        for member in chain:
            state[id(member)] = True


def _is_yaml_error(exc: Exception) -> bool:
    return any(cls.__name__ == "YAMLError" for cls in type(exc).__mro__)


def parse_events(text: str) -> list:
    """YAML parser events with exact character offsets.

    libyaml's C parser (through PyYAML) when it is available: the same events
    and offsets as ruamel.yaml's parser, about 25 times faster. ruamel.yaml's
    pure-Python parser otherwise.
    """
    loader = _libyaml_loader()
    if loader is not None:
        import yaml

        return list(yaml.parse(text, Loader=loader))
    from ruamel.yaml import YAML

    return list(YAML(typ="rt").parse(text))


@lru_cache(maxsize=1)
def _libyaml_loader():
    """PyYAML's libyaml loader, looked up on first use (start-up stays light)."""
    try:
        import yaml
    except ImportError:
        return None
    return yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else None


def image_name(value: str | None) -> str | None:
    """An image reference with interpolation resolved to defaults where possible."""
    if not value:
        return None

    def default(m: re.Match) -> str:
        return m.group(2) if m.group(2) is not None and m.group(0).startswith("${") and ":-" in m.group(0) else "x"

    return _INTERPOLATION.sub(default, value)
