"""Where compose fixes put new keys: after the commented-out entries that belong to the last key, and
never again in a service that gets them through a merge."""

from hardener.config import Config
from hardener.engine import fix_text

NNP = Config(select=("HD201",))


def fixed(text: str, config: Config = NNP) -> str:
    result = fix_text(text, "compose.yaml", config)
    assert result.verification_error is None
    assert fix_text(result.fixed, "compose.yaml", config).fixed == result.fixed, "a second run changes nothing"
    return result.fixed


def test_new_keys_go_after_the_commented_entries_of_the_last_key():
    text = (
        "services:\n  web:\n    image: nginx:1.27\n    environment:\n      - A=1\n"
        "      # - UNCOMMENT_TO_ENABLE=1\n      #   - OTHER=2\n  cache:\n    image: redis:7\n"
    )
    assert fixed(text) == (
        "services:\n  web:\n    image: nginx:1.27\n    environment:\n      - A=1\n"
        "      # - UNCOMMENT_TO_ENABLE=1\n      #   - OTHER=2\n    security_opt:\n      - no-new-privileges:true\n"
        "  cache:\n    image: redis:7\n    security_opt:\n      - no-new-privileges:true\n"
    )
    # Uncommenting the entries still gives `environment:` its items.
    uncommented = fixed(text).replace("# - UNCOMMENT", "- UNCOMMENT")
    assert fix_text(uncommented, "compose.yaml", NNP).verification_error is None


def test_a_comment_at_the_keys_column_stays_below_the_new_keys():
    text = 'services:\n  cache:\n    image: redis:7\n    ports:\n      - "6379"\n    # ports:\n    #   - "6380:6379"\n'
    assert fixed(text) == (
        'services:\n  cache:\n    image: redis:7\n    ports:\n      - "6379"\n    security_opt:\n'
        '      - no-new-privileges:true\n    # ports:\n    #   - "6380:6379"\n'
    )


def test_a_service_that_merges_a_fixed_service_gets_the_keys_through_the_merge():
    text = (
        'services:\n  web: &web\n    image: nginx:1.27\n    ports: ["80:80"]\n'
        '  web2:\n    <<: *web\n    ports: ["81:80"]\n'
    )
    assert fixed(text) == (
        'services:\n  web: &web\n    image: nginx:1.27\n    ports: ["80:80"]\n    security_opt: [no-new-privileges:true]\n'
        '  web2:\n    <<: *web\n    ports: ["81:80"]\n'
    )


def test_a_merging_service_with_its_own_list_still_gets_the_item():
    text = (
        "services:\n  web: &web\n    image: nginx:1.27\n"
        "  web2:\n    <<: *web\n    security_opt:\n      - label:disable\n"
    )
    out = fixed(text)
    assert out.count("no-new-privileges:true") == 2
    assert "      - label:disable\n      - no-new-privileges:true\n" in out


# -- list style -----------------------------------------------------------------------------------
def test_a_new_list_is_written_as_the_file_writes_that_key():
    # Most lists are flow lists, but this file writes security_opt as a block: so is the new one.
    text = (
        "services:\n  a:\n    image: x:1\n    ports: [\"80:80\"]\n    volumes: [\"./a:/a\"]\n"
        "    security_opt:\n      - label:disable\n      - no-new-privileges:true\n"
        "  b:\n    image: x:1\n    ports: [\"81:80\"]\n"
    )
    assert fixed(text).endswith('  b:\n    image: x:1\n    ports: ["81:80"]\n    security_opt:\n      - no-new-privileges:true\n')


def test_a_service_that_writes_its_lists_as_blocks_gets_block_lists_in_a_mostly_flow_file():
    text = (
        "services:\n  web:\n    image: nginx:1.27\n    ports: [\"80:80\"]\n    volumes: [\"./html:/html:ro\"]\n"
        "  db:\n    image: postgres:16\n    ports:\n      - \"5432:5432\"\n"
    )
    assert fixed(text) == (
        "services:\n  web:\n    image: nginx:1.27\n    ports: [\"80:80\"]\n    volumes: [\"./html:/html:ro\"]\n"
        "    security_opt: [no-new-privileges:true]\n"
        "  db:\n    image: postgres:16\n    ports:\n      - \"5432:5432\"\n    security_opt:\n      - no-new-privileges:true\n"
    )
