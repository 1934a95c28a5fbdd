"""Resolve image tags to digests with the OCI distribution API.

Network code lives here, at the edge; the core only sees `Resolution` values.

- HEAD on the manifest, accepting OCI indexes and Docker manifest lists first,
  so a multi-arch tag resolves to its index digest, never one platform's.
- `Docker-Content-Digest`, or a GET whose exact bytes are hashed.
- 401 challenges: Bearer tokens from the realm the registry names, Basic
  credentials; credentials go to their own host and that host's token realm
  only, never across a redirect to another host, never over plain HTTP except
  to loopback or registries configured as insecure.
- 429, 5xx and timeouts are retried with backoff a bounded number of times;
  then the image is skipped with a reason. One bad image never fails the run.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import httpx

from hardener.images import DOCKER_HUB, ImageRef
from hardener.pinning import DIGEST, Resolution, reference_key

ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
_RETRY_STATUS = {429, 500, 502, 503, 504}


class _Skip(Exception):
    """This image cannot be resolved; the message says why (never a secret)."""


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
    ):
        self.credentials = credentials
        self.insecure = {r.lower() for r in insecure_registries}
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_wait = max_wait
        self.concurrency = max(1, concurrency)
        self.http = httpx.Client(timeout=timeout, verify=ca_bundle or True, follow_redirects=False)
        self.requests = 0  # sent, for measurement
        self._tokens: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- public --------------------------------------------------------------
    def resolve_many(self, references) -> dict[str, Resolution]:
        """Resolve each unique reference once, several at a time."""
        unique = sorted({reference_key(r) for r in references})
        if not unique:
            return {}
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(unique))) as pool:
            return dict(zip(unique, pool.map(self.resolve, unique), strict=True))

    def resolve(self, reference: str) -> Resolution:
        key = reference_key(reference)
        ref = ImageRef.parse(key)
        try:
            digest, media_type = self._resolve(ref)
        except _Skip as exc:
            return Resolution(key, error=str(exc))
        except httpx.HTTPError as exc:  # anything the transport raised that retries did not absorb
            return Resolution(key, error=f"registry {ref.registry} failed: {type(exc).__name__}")
        return Resolution(key, digest, media_type)

    # -- the protocol ------------------------------------------------------------
    def _base(self, registry: str) -> str:
        host = api_host(registry)
        plain = is_loopback(host) or registry.lower() in self.insecure
        return f"{'http' if plain else 'https'}://{host}"

    def _resolve(self, ref: ImageRef) -> tuple[str, str | None]:
        tag = ref.tag or "latest"
        url = f"{self._base(ref.registry)}/v2/{ref.repository}/manifests/{urllib.parse.quote(tag)}"
        response = self._authorized("HEAD", url, ref)
        if response.status_code == 404:
            raise _Skip(f"{ref.registry}/{ref.repository}:{tag} does not exist (tag or repository unknown)")
        if response.status_code in (401, 403):
            raise _Skip(
                f"{ref.registry} refused access to {ref.repository} (HTTP {response.status_code}): check credentials"
            )
        if response.status_code != 200:
            raise _Skip(f"{ref.registry} answered HTTP {response.status_code} for {ref.repository}:{tag}")
        media_type = response.headers.get("Content-Type", "").split(";")[0] or None
        digest = response.headers.get("Docker-Content-Digest")
        if not digest:
            # Some registries omit the header: hash the exact manifest bytes instead.
            body = self._authorized("GET", url, ref)
            if body.status_code != 200:
                raise _Skip(f"{ref.registry} answered HTTP {body.status_code} fetching {ref.repository}:{tag}")
            digest = "sha256:" + hashlib.sha256(body.content).hexdigest()
            media_type = body.headers.get("Content-Type", "").split(";")[0] or media_type
        if not DIGEST.match(digest):
            raise _Skip(f"{ref.registry} returned a digest hardener does not accept ({digest[:20]}...)")
        return digest, media_type

    def _authorized(self, method: str, url: str, ref: ImageRef) -> httpx.Response:
        host = urllib.parse.urlsplit(url).netloc
        scope = f"repository:{ref.repository}:pull"
        headers = {"Accept": ACCEPT}
        with self._lock:
            token = self._tokens.get((host, scope))
        if token:
            headers["Authorization"] = token
        response = self._send(method, url, headers)
        if response.status_code != 401:
            return response
        challenge = response.headers.get("WWW-Authenticate", "")
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "bearer":
            authorization = "Bearer " + self._token(host, dict(_CHALLENGE.findall(params)), scope, ref.registry)
        elif scheme.lower() == "basic":
            login = self._login(ref.registry)
            if login is None:
                raise _Skip(f"{ref.registry} needs credentials and none are configured for it")
            authorization = "Basic " + _basic(*login)
        else:
            raise _Skip(f"{ref.registry} asked for an authentication scheme hardener does not support")
        with self._lock:
            self._tokens[(host, scope)] = authorization
        headers["Authorization"] = authorization
        return self._send(method, url, headers)

    def _token(self, host: str, challenge: dict, scope: str, registry: str) -> str:
        realm = challenge.get("realm")
        if not realm:
            raise _Skip(f"{registry} sent a bearer challenge without a realm")
        realm_parts = urllib.parse.urlsplit(realm)
        if (
            realm_parts.scheme != "https"
            and not is_loopback(realm_parts.netloc)
            and registry.lower() not in self.insecure
        ):
            raise _Skip(f"{registry} names a token service over plain HTTP; refusing to send credentials there")
        query = {"service": challenge.get("service", ""), "scope": challenge.get("scope") or scope}
        headers = {}
        login = self._login(registry)
        if login is not None:
            headers["Authorization"] = "Basic " + _basic(*login)  # only to the realm this registry named
        response = self._send("GET", realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query), headers)
        if response.status_code in (401, 403):
            raise _Skip(f"the token service of {registry} refused the credentials (HTTP {response.status_code})")
        if response.status_code != 200:
            raise _Skip(f"the token service of {registry} answered HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise _Skip(f"the token service of {registry} sent no JSON") from None
        token = data.get("token") or data.get("access_token")
        if not token:
            raise _Skip(f"the token service of {registry} sent no token")
        return token

    def _login(self, registry: str):
        return self.credentials.for_registry(registry) if self.credentials is not None else None

    def _send(self, method: str, url: str, headers: dict) -> httpx.Response:
        """One request with retries, following redirects by hand (credentials stay on their host)."""
        origin = urllib.parse.urlsplit(url).netloc
        for _hop in range(5):
            response = self._with_retries(method, url, headers)
            if response.status_code not in (301, 302, 303, 307, 308) or "Location" not in response.headers:
                return response
            url = urllib.parse.urljoin(url, response.headers["Location"])
            if urllib.parse.urlsplit(url).netloc != origin:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if response.status_code == 303:
                method = "GET"
        raise _Skip("too many redirects")

    def _with_retries(self, method: str, url: str, headers: dict) -> httpx.Response:
        host = urllib.parse.urlsplit(url).netloc
        for attempt in range(self.attempts):
            try:
                with self._lock:
                    self.requests += 1
                response = self.http.request(method, url, headers=headers)
            except httpx.TimeoutException:
                problem = "timed out"
            except httpx.TransportError as exc:
                problem = f"could not be reached ({_short(exc)})"
            else:
                if response.status_code not in _RETRY_STATUS:
                    return response
                problem = f"answered HTTP {response.status_code}"
                wait = _retry_after(response)
                if wait is not None:
                    if attempt + 1 < self.attempts:
                        time.sleep(min(wait, self.max_wait))
                    continue
            if attempt + 1 < self.attempts:
                time.sleep(min(self.backoff * (2**attempt), self.max_wait))
        raise _Skip(f"{host} {problem} after {self.attempts} attempts")


def _basic(user: str, secret: str) -> str:
    import base64

    return base64.b64encode(f"{user}:{secret}".encode()).decode()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
