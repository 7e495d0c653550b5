import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()
SETUP = "python3 bootstrap.py"


def test_the_readme_starts_with_the_two_commands() -> None:
    first_block = re.match(r"# taskchat\n\n```bash\n(.*?)```\n", README, re.S)
    assert first_block is not None, "the README starts with its commands"
    commands = [line for line in first_block.group(1).splitlines() if line and not line.startswith("#")]
    assert commands == [f"{SETUP} && .venv/bin/taskchat dev", f"{SETUP} && .venv/bin/pytest"]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci_lines = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci_lines[-1] == f"{SETUP} && .venv/bin/pytest"
    assert not any("pip install" in line for line in ci_lines), "CI installs only what the README does"


def test_bootstrap_and_the_project_support_the_same_pythons() -> None:
    import bootstrap
    from tests.unit.test_lock import SUPPORTED

    assert [f"{major}.{minor}" for major, minor in bootstrap.SUPPORTED] == SUPPORTED


def test_the_readme_mcp_client_is_the_example_file() -> None:
    example = (ROOT / "examples" / "mcp_client.py").read_text()
    assert f"```python\n{example}```" in README


def test_compose_runs_real_cli_commands() -> None:
    import yaml  # type: ignore[import-untyped]

    from taskchat.cli import main

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        command = service.get("command")
        if not command or command[0] != "taskchat":
            continue
        try:
            main([*command[1:], "--help"])
        except SystemExit as exit_:
            assert exit_.code == 0, f"{name}: {command}"
