"""Registers every command module on the main group."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    from planner.cli import cert_cmds, config_cmds

    for command in (config_cmds.validate, config_cmds.fmt, config_cmds.graph):
        main.add_command(command)

    main.add_command(cert_cmds.cert)

    from planner.cli import state_cmds

    for command in (
        state_cmds.state,
        state_cmds.show_cmd,
        state_cmds.output,
        state_cmds.force_unlock,
    ):
        main.add_command(command)

    from planner.cli import engine_cmds

    for command in (
        engine_cmds.plan,
        engine_cmds.apply,
        engine_cmds.destroy,
        engine_cmds.import_cmd,
    ):
        main.add_command(command)

    from planner.cli import sandbox_cmds

    main.add_command(sandbox_cmds.sandbox)

    from planner.cli import origin_cmds

    main.add_command(origin_cmds.origin_group)

    from planner.cli import drift_cmds

    main.add_command(drift_cmds.drift)

    from planner.cli import generate_cmds

    main.add_command(generate_cmds.generate_cmd)
