"""Every command explains itself (`--help`) and is documented in the pages under docs/."""

from __future__ import annotations

import click
from click.testing import CliRunner

from conftest import REPO
from octracker.cli import COMMAND_NAMES, command_module, main, register_all_commands

register_all_commands()


def walk_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    """(words, command) for every command and subcommand, e.g. (("alerts", "send"), <Command send>)."""
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from walk_commands(command, (*prefix, name))


def test_every_command_has_help_and_is_documented():
    docs = "\n".join(p.read_text(encoding="utf-8") for p in sorted((REPO / "docs").glob("*.md")))
    commands = list(walk_commands(main))
    assert {"sql", "status", "export", "report", "chart", "refresh", "summary"} <= {w[0] for w, _ in commands}
    for words, command in commands:
        assert command.help and command.get_short_help_str().strip(), f"{' '.join(words)} has no help text"
        result = CliRunner().invoke(main, [*words, "--help"])
        assert result.exit_code == 0, result.output
        assert f"Usage: main {' '.join(words)}" in result.output
        assert command.help.split("\n")[0].split()[0] in result.output
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{' '.join(words)} {param.opts[0]} has no help text"
        assert f"octracker {' '.join(words)}" in docs, (
            f"no page under docs/ mentions `octracker {' '.join(words)}`: add it to docs/commands.md"
        )


def test_the_main_help_lists_every_command():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in main.commands:
        assert f"  {name} " in result.output


def test_every_command_module_is_listed_so_its_commands_load_when_asked_for():
    import importlib
    import pkgutil

    import octracker.cli

    for info in pkgutil.iter_modules(octracker.cli.__path__):
        module = importlib.import_module(f"octracker.cli.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            assert command.name in COMMAND_NAMES and command_module(command.name) is module, (
                f"command {command.name!r} of octracker/cli/{info.name}.py is missing from COMMAND_NAMES "
                "or command_module"
            )
    for name in COMMAND_NAMES:
        module = command_module(name)
        assert module is not None and name in {c.name for c in module.COMMANDS}, (
            f"command_module({name!r}) does not give the module that defines it"
        )
