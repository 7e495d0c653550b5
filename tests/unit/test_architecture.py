"""The architecture as rules that fail CI: imports point downward, and the only way to the database is the
SQLModel tables (no SQL written as strings, no driver connections of our own)."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
APPLICATION = ["taskchat", "api", "worker", "mcp_tools", "common", "bench"]
MIGRATIONS = ROOT / "common" / "migrations"

# A string that reads as a SQL statement, in any case: the verb and the clause that makes it a statement.
SQL_STATEMENT = re.compile(
    r"""^\s*(?:
        SELECT\s[\s\S]*\bFROM\b | INSERT\s+INTO\b | UPDATE\s+\w+\s+SET\b | DELETE\s+FROM\b
      | WITH\s+\w+\s+AS\s*\( | (?:CREATE|DROP|ALTER)\s+(?:TABLE|INDEX|DATABASE|SEQUENCE|VIEW)\b
      | TRUNCATE\b | MERGE\s+INTO\b | SELECT\s+\w+\s*\(
    )""",
    re.IGNORECASE | re.VERBOSE,
)
DML = re.compile(r"\b(?:SELECT|INSERT|UPDATE|DELETE|MERGE|TRUNCATE)\b", re.IGNORECASE)
RAW_SQL_CALLS = {"text", "literal_column", "exec_driver_sql"}


def application_files() -> list[Path]:
    files = [path for package in APPLICATION for path in (ROOT / package).rglob("*.py")]
    return [path for path in files if MIGRATIONS not in path.parents]


def sql_problems(source: str) -> list[str]:
    """SQL statements written as strings, raw-SQL calls with DML, and driver imports, in one module."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_STATEMENT.match(node.value):
            problems.append(f"line {node.lineno}: SQL written as a string: {node.value.strip()[:60]!r}")
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            texts = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if name in RAW_SQL_CALLS and any(DML.search(text) for text in texts):
                problems.append(f"line {node.lineno}: {name}() with DML")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(
                module.split(".")[0] in ("psycopg", "psycopg_pool", "psycopg2", "asyncpg")
                for module in modules
            ):
                problems.append(f"line {node.lineno}: a database driver imported directly")
    return problems


class TestDataLayer:
    def test_no_sql_strings_or_driver_connections_outside_the_migrations(self) -> None:
        problems = [
            f"{path.relative_to(ROOT)} {problem}"
            for path in application_files()
            for problem in sql_problems(path.read_text(encoding="utf-8"))
        ]
        assert problems == []

    @pytest.mark.parametrize(
        "source",
        [
            'QUERY = "SELECT id FROM task WHERE user_id = %s"',
            'q = f"""\n  insert into task (title) values ({x})"""',
            'q = "UPDATE run SET status = 1"',
            'q = "WITH claimed AS (UPDATE run SET x = 1 RETURNING id) SELECT * FROM claimed"',
            'await conn.execute(text("DELETE FROM task"))',
            'server.psql("CREATE DATABASE taskchat;")',
            "import psycopg",
            "from psycopg_pool import AsyncConnectionPool",
        ],
    )
    def test_the_check_catches(self, source: str) -> None:
        assert sql_problems(source)

    @pytest.mark.parametrize(
        "source",
        [
            'REPLY = "Select the task you mean, or update it with a new title."',
            'HELP = "With tasks as your list, I can add, complete and delete them."',
            "select(Task).where(Task.user_id == user_id)",
            'index = Index("ix", postgresql_where=text("status IN (\'queued\')"))',
        ],
    )
    def test_the_check_lets_prose_and_statement_builders_pass(self, source: str) -> None:
        assert sql_problems(source) == []


class TestLayers:
    def test_imports_point_downward(self) -> None:
        """The contracts are in pyproject.toml ([tool.importlinter])."""
        result = subprocess.run(
            [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        assert "0 broken" in result.stdout
