"""Resolve image tags to digests with the OCI distribution API.

Network code lives here, at the edge; the core only sees `Resolution` values.

- GET on the manifest, accepting OCI indexes and Docker manifest lists first,
  so a multi-arch tag resolves to its index digest, never one platform's. The
  digest is the sha256 of the exact bytes received; a `Docker-Content-Digest`
  header that says otherwise makes the image unresolved, never pinned.
- 401 challenges: Bearer tokens from the realm the registry names, Basic
  credentials. Credentials go to the registry's own host and the token realm
  that host names, only: never to a host a redirect leads to (nor a realm
  such a host names), never after a redirect from HTTPS to HTTP, and never
  over plain HTTP except to loopback or registries configured as insecure.
- Everything is bounded: manifest and token sizes, each network wait, the time
  spent on one reference and on the whole run. Registry bodies are never
  echoed in messages.
- 429, 5xx and timeouts are retried with backoff a bounded number of times;
  then the image is skipped with a reason. One bad image never fails the run.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import httpcore
import httpx

from hardener.config import MAX_CA_BUNDLE_BYTES
from hardener.files import read_regular_file
from hardener.images import DOCKER_HUB, ImageRef
from hardener.model import InputError
from hardener.pinning import Resolution, reference_key
from hardener.registry.checks import is_digest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST_TYPES = (
    OCI_INDEX,
    "application/vnd.docker.distribution.manifest.list.v2+json",
    OCI_MANIFEST,
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join(MANIFEST_TYPES)

# The distribution spec asks registries to accept manifests up to 4 MiB; nothing larger is one.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_TOKEN_BYTES = 1024 * 1024
REFERENCE_DEADLINE = 60.0  # seconds for one reference, retries and redirects included
RUN_DEADLINE = 300.0  # seconds for all references of a run

_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
_RETRY_STATUS = {429, 500, 502, 503, 504}
_REDIRECT_STATUS = {301, 302, 303, 307, 308}
# The distribution spec's grammar for names and tags: nothing else is put into a URL.
_REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?")
_TOKEN = re.compile(r"[\x21-\x7e]+")  # what may go into an Authorization header


class _Skip(Exception):
    """This image cannot be resolved; the message says why (never a secret, never registry text)."""


def api_host(registry: str) -> str:
    return "registry-1.docker.io" if registry in (DOCKER_HUB, "index.docker.io") else registry


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0].strip("[]") if host.count(":") <= 1 or host.startswith("[") else host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")


def load_ca_bundle(path: str):
    """An SSL context trusting the CA certificates in `path`; a one-line InputError if it holds none."""
    import ssl

    data = read_regular_file(path, MAX_CA_BUNDLE_BYTES, "registry-ca-bundle: ")
    # Only the certificate blocks count, as for OpenSSL: text around them (a comment in any
    # encoding, the subject lines some tools print) is not part of the bundle.
    blocks = _PEM_CERTIFICATE.findall(data)
    if not blocks:
        raise InputError("registry-ca-bundle: not a PEM file of CA certificates", 0, path)
    text = b"\n".join(blocks).decode("ascii")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names; trusts only the bundle
    try:
        context.load_verify_locations(cadata=text)
    except (ssl.SSLError, ValueError):
        raise InputError("registry-ca-bundle: not a PEM file of CA certificates", 0, path) from None
    if not context.cert_store_stats().get("x509_ca"):
        raise InputError("registry-ca-bundle: holds no CA certificate", 0, path)
    return context


# -- deadlines -----------------------------------------------------------------
# Each network read and write waits at most until the calling thread's deadline, so a
# registry that trickles bytes cannot hold a reference (or the run) past its time.
_deadline = threading.local()


def _until_deadline(timeout: float | None) -> float | None:
    at = getattr(_deadline, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _until_deadline(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _until_deadline(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _until_deadline(timeout)))

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend):
        self._inner = inner

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return _DeadlineStream(
            self._inner.connect_tcp(host, port, _until_deadline(timeout), local_address, socket_options)
        )

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return _DeadlineStream(self._inner.connect_unix_socket(path, _until_deadline(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _bound_by_deadlines(client: httpx.Client) -> None:
    """Put every connection pool of `client` (direct and proxied) on deadline-bounded sockets."""
    for transport in (client._transport, *client._mounts.values()):
        if transport is None:
            continue
        pool = getattr(transport, "_pool", None)
        if pool is None or not hasattr(pool, "_network_backend"):
            raise RuntimeError("httpx changed: the registry client cannot bound its network waits")
        pool._network_backend = _DeadlineBackend(pool._network_backend)


class _Answer:
    """A response whose body, if any, has been read within its limit."""

    def __init__(self, status: int, headers: httpx.Headers, body: bytes, url: str):
        self.status, self.headers, self.body, self.url = status, headers, body, url


class RegistryClient:
    def __init__(
        self,
        credentials=None,
        *,
        insecure_registries=(),
        ca_bundle: str | None = None,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.5,
        max_wait: float = 20.0,
        concurrency: int = 8,
        reference_deadline: float = REFERENCE_DEADLINE,
        run_deadline: float = RUN_DEADLINE,
        max_manifest_bytes: int = MAX_MANIFEST_BYTES,
        max_token_bytes: int = MAX_TOKEN_BYTES,
        plain_http_loopback: bool = True,
    ):
        """`ca_bundle` is a path (checked, InputError if unusable); `plain_http_loopback=False`
        makes loopback registries use HTTPS like any other."""
        self.credentials = credentials
        self.insecure = {r.lower() for r in insecure_registries}
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_wait = max_wait
        self.concurrency = max(1, concurrency)
        self.reference_deadline = reference_deadline
        self.run_deadline = run_deadline
        self.max_manifest_bytes = max_manifest_bytes
        self.max_token_bytes = max_token_bytes
        self.plain_http_loopback = plain_http_loopback
        verify = load_ca_bundle(ca_bundle) if ca_bundle else True
        self.http = httpx.Client(timeout=timeout, verify=verify, follow_redirects=False)
        _bound_by_deadlines(self.http)
        self.requests = 0  # sent, for measurement
        self._tokens: dict[tuple[tuple[str, str], str], str] = {}  # (origin, scope) -> Authorization
        self._lock = threading.Lock()
        self._run_ends: float | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- public --------------------------------------------------------------
    def resolve_many(self, references) -> dict[str, Resolution]:
        """Resolve each unique reference once, several at a time, all within the run's deadline."""
        unique = sorted({reference_key(r) for r in references})
        if not unique:
            return {}
        self._run_ends = time.monotonic() + self.run_deadline
        try:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(unique))) as pool:
                return dict(zip(unique, pool.map(self.resolve, unique), strict=True))
        finally:
            self._run_ends = None

    def resolve(self, reference: str) -> Resolution:
        key = reference_key(reference)
        ref = ImageRef.parse(key)
        now = time.monotonic()
        run_ends = self._run_ends
        if run_ends is not None and now >= run_ends:
            return Resolution(key, error=self._run_deadline_message())
        _deadline.at = now + self.reference_deadline
        _deadline.reason = f"{key} was not resolved within {self.reference_deadline:g} s"
        if run_ends is not None and run_ends < _deadline.at:
            _deadline.at, _deadline.reason = run_ends, self._run_deadline_message()
        try:
            digest, media_type = self._resolve(ref)
        except _Skip as exc:
            return Resolution(key, error=str(exc))
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            # Anything the transport raised that retries did not absorb; its text may quote the server.
            return Resolution(key, error=f"registry {ref.registry} failed: {type(exc).__name__}")
        finally:
            _deadline.at = None
        return Resolution(key, digest, media_type)

    def _run_deadline_message(self) -> str:
        return f"not resolved: the registry time limit for the run ({self.run_deadline:g} s) ran out"

    # -- the protocol ------------------------------------------------------------
    def _plain_http_allowed(self, host: str) -> bool:
        return (self.plain_http_loopback and is_loopback(host)) or host.lower() in self.insecure

    def _base(self, registry: str) -> str:
        host = api_host(registry)
        plain = self._plain_http_allowed(host) or registry.lower() in self.insecure
        return f"{'http' if plain else 'https'}://{host}"

    def _resolve(self, ref: ImageRef) -> tuple[str, str | None]:
        tag = ref.tag or "latest"
        if not (_HOST.fullmatch(ref.registry) and _REPOSITORY.fullmatch(ref.repository) and _TAG.fullmatch(tag)):
            raise _Skip("not a valid image reference (registry, repository or tag); not resolved")
        url = f"{self._base(ref.registry)}/v2/{ref.repository}/manifests/{tag}"
        answer = self._authorized("GET", url, ref, self.max_manifest_bytes)
        if answer.status == 404:
            raise _Skip(f"{ref.registry}/{ref.repository}:{tag} does not exist (tag or repository unknown)")
        if answer.status in (401, 403):
            raise _Skip(f"{ref.registry} refused access to {ref.repository} (HTTP {answer.status}): check credentials")
        if answer.status != 200:
            raise _Skip(f"{ref.registry} answered HTTP {answer.status} for {ref.repository}:{tag}")
        # The digest is that of the exact bytes received; a header can only agree with it.
        digest = "sha256:" + hashlib.sha256(answer.body).hexdigest()
        claimed = answer.headers.get("Docker-Content-Digest")
        if claimed is not None:
            if not is_digest(claimed):
                raise _Skip(
                    f"{ref.registry} sent a Docker-Content-Digest that is not sha256:<64 hex digits>; not pinned"
                )
            if claimed != digest:
                raise _Skip(
                    f"{ref.registry} sent a manifest whose sha256 differs from its Docker-Content-Digest; not pinned"
                )
        media_type = _manifest_type(answer)
        if media_type is None:
            raise _Skip(f"{ref.registry} answered {ref.repository}:{tag} with something that is not an image manifest")
        return digest, media_type

    def _authorized(self, method: str, url: str, ref: ImageRef, limit: int) -> _Answer:
        origin = _origin(url)
        scope = f"repository:{ref.repository}:pull"
        headers = {"Accept": ACCEPT, "Accept-Encoding": "identity"}
        with self._lock:
            token = self._tokens.get((origin, scope))
        if token:
            headers["Authorization"] = token
        answer = self._send(method, url, headers, limit)
        if answer.status != 401:
            return answer
        if _origin(answer.url) != origin:
            # Only the registry itself may ask for its credentials (or name the realm that gets them).
            raise _Skip(f"{ref.registry} redirected to another host that asks for credentials; none sent")
        challenge = answer.headers.get("WWW-Authenticate", "")
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "bearer":
            authorization = "Bearer " + self._token(dict(_CHALLENGE.findall(params)), scope, ref.registry)
        elif scheme.lower() == "basic":
            login = self._login(ref.registry)
            if login is None:
                raise _Skip(f"{ref.registry} needs credentials and none are configured for it")
            authorization = "Basic " + _basic(*login)
        else:
            raise _Skip(f"{ref.registry} asked for an authentication scheme hardener does not support")
        with self._lock:
            self._tokens[(origin, scope)] = authorization
        headers["Authorization"] = authorization
        return self._send(method, url, headers, limit)

    def _token(self, challenge: dict, scope: str, registry: str) -> str:
        realm = challenge.get("realm")
        if not realm:
            raise _Skip(f"{registry} sent a bearer challenge without a realm")
        parts = urllib.parse.urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
            raise _Skip(f"{registry} names a token service that is not a plain HTTP(S) address")
        plain_allowed = self._plain_http_allowed(parts.netloc) or registry.lower() in self.insecure
        if parts.scheme != "https" and not plain_allowed:
            raise _Skip(f"{registry} names a token service over plain HTTP; refusing to send credentials there")
        query = {"service": challenge.get("service", ""), "scope": challenge.get("scope") or scope}
        headers = {}
        login = self._login(registry)
        if login is not None:
            headers["Authorization"] = "Basic " + _basic(*login)  # only to the realm this registry named
        answer = self._send(
            "GET", realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query), headers, self.max_token_bytes
        )
        if answer.status in (401, 403):
            raise _Skip(f"the token service of {registry} refused the credentials (HTTP {answer.status})")
        if answer.status != 200:
            raise _Skip(f"the token service of {registry} answered HTTP {answer.status}")
        try:
            data = json.loads(answer.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise _Skip(f"the token service of {registry} sent no JSON") from None
        token = (data.get("token") or data.get("access_token")) if isinstance(data, dict) else None
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            raise _Skip(f"the token service of {registry} sent no usable token")
        return token

    def _login(self, registry: str):
        return self.credentials.for_registry(registry) if self.credentials is not None else None

    def _send(self, method: str, url: str, headers: dict, limit: int) -> _Answer:
        """One request with retries, following redirects by hand (credentials stay on their origin)."""
        origin = _origin(url)
        for _hop in range(5):
            answer = self._with_retries(method, url, headers, limit)
            location = answer.headers.get("Location")
            if answer.status not in _REDIRECT_STATUS or location is None:
                return answer
            here = urllib.parse.urlsplit(url)
            target = urllib.parse.urljoin(url, location)
            there = urllib.parse.urlsplit(target)
            if there.scheme not in ("http", "https") or not there.hostname or "@" in there.netloc:
                raise _Skip(f"{here.netloc} redirected to an address that is not plain HTTP(S); not followed")
            if here.scheme == "https" and there.scheme == "http":
                raise _Skip(f"{here.netloc} redirected from HTTPS to plain HTTP; not followed")
            if there.scheme == "http" and not self._plain_http_allowed(there.netloc):
                raise _Skip(f"{here.netloc} redirected to plain HTTP on a host that is not loopback; not followed")
            if _origin(target) != origin:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if answer.status == 303:
                method = "GET"
            url = target
        raise _Skip("too many redirects")

    def _with_retries(self, method: str, url: str, headers: dict, limit: int) -> _Answer:
        host = urllib.parse.urlsplit(url).netloc
        for attempt in range(self.attempts):
            _check_deadline()
            try:
                with self._lock:
                    self.requests += 1
                answer = self._exchange(method, url, headers, limit)
            except httpx.TimeoutException:
                problem = "timed out"
            except httpx.TransportError as exc:
                problem = _describe(exc)
            else:
                if answer.status not in _RETRY_STATUS:
                    return answer
                problem = f"answered HTTP {answer.status}"
                wait = _retry_after(answer.headers)
                if wait is not None:
                    if attempt + 1 < self.attempts:
                        _sleep_within_deadline(min(wait, self.max_wait))
                    continue
            if attempt + 1 < self.attempts:
                _sleep_within_deadline(min(self.backoff * (2**attempt), self.max_wait))
        _check_deadline()
        raise _Skip(f"{host} {problem} after {self.attempts} attempts")

    def _exchange(self, method: str, url: str, headers: dict, limit: int) -> _Answer:
        """One request; only a 200 answer's body is read, and never more than `limit` bytes."""
        with self.http.stream(method, url, headers=headers) as response:
            body = b""
            if response.status_code == 200 and method != "HEAD":
                body = _read_within(response, limit)
            return _Answer(response.status_code, response.headers, body, url)


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _check_deadline() -> None:
    at = getattr(_deadline, "at", None)
    if at is not None and time.monotonic() >= at:
        raise _Skip(_deadline.reason)


def _sleep_within_deadline(seconds: float) -> None:
    at = getattr(_deadline, "at", None)
    if at is not None and time.monotonic() + seconds >= at:
        raise _Skip(_deadline.reason)  # waiting would only end after the deadline
    time.sleep(seconds)


def _read_within(response: httpx.Response, limit: int) -> bytes:
    host = response.request.url.netloc.decode("ascii", "replace")
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _Skip(f"{host} announced a body larger than {limit} bytes; not read")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise _Skip(f"{host} sent a body larger than {limit} bytes; not read further")
        chunks.append(chunk)
    return b"".join(chunks)


def _manifest_type(answer: _Answer) -> str | None:
    """The manifest's media type, or None if the body is not an image manifest or index."""
    try:
        data = json.loads(answer.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("schemaVersion") != 2:
        return None
    declared = answer.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if declared in MANIFEST_TYPES:
        return declared
    if data.get("mediaType") in MANIFEST_TYPES:
        return data["mediaType"]
    if isinstance(data.get("manifests"), list):
        return OCI_INDEX
    if isinstance(data.get("config"), dict) and isinstance(data.get("layers"), list):
        return OCI_MANIFEST
    return None


def _basic(user: str, secret: str) -> str:
    import base64

    return base64.b64encode(f"{user}:{secret}".encode()).decode()


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _describe(exc: Exception) -> str:
    """What went wrong on the wire, in hardener's words (transport messages can quote the server)."""
    import errno
    import ssl

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "failed TLS certificate verification (a private CA needs registry-ca-bundle)"
        if isinstance(cause, ssl.SSLError):
            return "failed the TLS handshake"
        if isinstance(cause, OSError) and cause.errno is not None and cause.errno in errno.errorcode:
            return f"could not be reached ({errno.errorcode[cause.errno]})"  # ECONNREFUSED, ECONNRESET, ...
        cause = cause.__cause__ or cause.__context__
    text = str(exc).lower()  # httpcore's and the OS's own wording, matched but never shown
    if "certificate verify failed" in text:
        return "failed TLS certificate verification (a private CA needs registry-ca-bundle)"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "could not be reached (unknown host name)"
    if isinstance(exc, httpx.RemoteProtocolError):
        if "server disconnected" in text:
            return "could not be reached (the connection closed without an answer)"
        return "broke the HTTP protocol"
    if isinstance(exc, httpx.ConnectError):
        return "could not be reached (connection failed)"
    if isinstance(exc, (httpx.ReadError, httpx.WriteError)):
        return "could not be reached (connection lost)"
    return f"failed ({type(exc).__name__})"
