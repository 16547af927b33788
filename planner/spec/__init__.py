"""The workload file: pydantic schema, YAML loader with located errors, field reference."""
