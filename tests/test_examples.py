"""The README's first command: `hardener fix --diff examples/` shows the seed scenario fixed."""

from .conftest import ROOT


def test_fix_diff_on_the_shipped_examples(run_cli):
    result = run_cli("fix", "--diff", "examples/", cwd=ROOT)
    assert result.returncode == 1, result.stderr  # 1: there is something to fix
    diff = result.stdout
    # The separate apt lines are merged into one RUN that also cleans up.
    assert "-RUN apt-get update\n-RUN apt-get upgrade -y\n-RUN apt-get install -y --no-install-recommends \\\n" in diff
    assert "+RUN apt-get update && \\\n+    apt-get upgrade -y && \\\n+    apt-get install -y" in diff
    assert "+    rm -rf /var/lib/apt/lists/*\n" in diff
    # A non-root user is created with the base image's own tools, then used.
    assert "+RUN groupadd --system --gid 10001 appuser && useradd --system --uid 10001" in diff
    assert "+USER 10001:10001\n" in diff
    # Nothing else changes: every removed line is one of the fixed instructions
    # (or the compose file's literal password).
    removed = [line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    assert removed == [
        "-      POSTGRES_PASSWORD: example-password",
        "-RUN apt-get update",
        "-RUN apt-get upgrade -y",
        "-RUN apt-get install -y --no-install-recommends \\",
        "-        tini",
        "-ADD app.py .",
    ]
    assert (ROOT / "examples" / "app" / "Dockerfile").read_text().count("RUN apt-get") == 3, "--diff writes nothing"


def test_fix_diff_hardens_the_example_compose_stack(run_cli):
    diff = run_cli("fix", "--diff", "examples/", cwd=ROOT).stdout
    assert "+      POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password" in diff
    assert "+secrets:\n+  postgres_password:\n+    environment: POSTGRES_PASSWORD" in diff
    assert "example-password" not in diff.replace("-      POSTGRES_PASSWORD: example-password", "")
    assert "+    cap_drop:\n+      - ALL\n+    cap_add:\n+      - CHOWN\n" in diff
    assert "+    security_opt:\n+      - no-new-privileges:true\n" in diff
    assert "+    mem_limit: 1g\n+    cpus: 1\n+    pids_limit: 512\n" in diff
