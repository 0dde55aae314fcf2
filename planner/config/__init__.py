"""Configuration: `*.aop.json` files -> validated, evaluated resources."""

from planner.config.loader import (
    Configuration,
    Output,
    PrivateKey,
    certificate_reference,
    load_configuration,
)
from planner.config.variables import VariableInputs, parse_cli_vars

__all__ = [
    "Configuration",
    "Output",
    "PrivateKey",
    "VariableInputs",
    "certificate_reference",
    "load_configuration",
    "parse_cli_vars",
]
