"""`planner schema`: the JSON Schema of the workload file, for editors and validators."""

from __future__ import annotations

import json

import click


@click.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of the workload file (draft 2020-12).

    The same schema ships as planner/schema.json. To have an editor with yaml-language-server
    complete and check a workload file, start the file with

        # yaml-language-server: $schema=<path to schema.json>

    The schema has every key, type, range and default; cross-field rules and catalogue names are
    checked by `planner solve` and the other commands that load the file.
    """
    from planner.api import schema

    click.echo(json.dumps(schema(), indent=2, ensure_ascii=False))
