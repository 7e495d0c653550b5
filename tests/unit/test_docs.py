from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci_lines = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    command = ci_lines[-1]
    assert command == "uv sync --frozen && .venv/bin/pytest"
    assert f"\n{command}\n" in readme


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
