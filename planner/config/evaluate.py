"""Evaluation of templates against variables, locals, files, the environment and resources."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.config import templates
from planner.config.templates import Call, Deferred, Ref, Reference, TemplateError
from planner.config.variables import INVALID, MISSING, Variable
from planner.model import RESOURCE_TYPES, Address
from planner.textfile import decode_text


@dataclass(frozen=True)
class Evaluated:
    value: Any
    sensitive: bool = False


class MissingVariable(TemplateError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"variable {name!r} has no value: give --var {name}=..., a --var-file, "
            f"or the environment variable AOP_VAR_{name}"
        )
        self.name = name


class InvalidVariable(TemplateError):
    """A use of a variable whose value was refused: the variable's own error says why."""

    def __init__(self, name: str) -> None:
        super().__init__(f"variable {name!r} has an invalid value")


ResourceLookup = Callable[[Address, str], Evaluated]


class Evaluator:
    """Evaluates raw JSON values; locals are evaluated once, on first use."""

    def __init__(
        self,
        directory: Path,
        variables: Mapping[str, Variable],
        locals_: Mapping[str, Any],
        env: Mapping[str, str],
        resource_lookup: ResourceLookup,
    ) -> None:
        self._directory = directory.resolve()
        self._variables = variables
        self._locals_raw = locals_
        self._locals: dict[str, Evaluated] = {}
        self._evaluating: list[str] = []
        self._env = env
        self._resource = resource_lookup

    def evaluate(self, raw: Any) -> Evaluated:
        if isinstance(raw, str):
            return self._template(raw)
        if isinstance(raw, list):
            items = [self.evaluate(item) for item in raw]
            return Evaluated([i.value for i in items], any(i.sensitive for i in items))
        if isinstance(raw, dict):
            entries = {k: self.evaluate(v) for k, v in raw.items() if k != "//"}
            return Evaluated(
                {k: e.value for k, e in entries.items()}, any(e.sensitive for e in entries.values())
            )
        return Evaluated(raw)

    def _template(self, text: str) -> Evaluated:
        if not templates.has_template(text):
            return Evaluated(text)
        parts = templates.parse(text)
        values = [self._part(part) for part in parts]
        sensitive = any(v.sensitive for v in values)
        if len(parts) == 1 and not isinstance(parts[0], str):
            return Evaluated(values[0].value, sensitive)
        flat: list[Any] = []
        for value in values:
            flat.extend(value.value.parts if isinstance(value.value, Deferred) else [value.value])
        # Interpolated values become text now, so a list fails here and not at apply time.
        flat = [v if isinstance(v, Reference) else templates.to_text(v) for v in flat]
        if any(isinstance(v, Reference) for v in flat):
            return Evaluated(Deferred(tuple(flat)), sensitive)
        return Evaluated(Deferred(tuple(flat)).resolve(lambda r: None), sensitive)

    def _part(self, part: str | Ref | Call) -> Evaluated:
        if isinstance(part, str):
            return Evaluated(part)
        if isinstance(part, Call):
            return self._call(part)
        return self.reference(part)

    def reference(self, ref: Ref) -> Evaluated:
        head, rest = ref.parts[0], ref.parts[1:]
        if head == "var":
            return self._variable(_single(ref, rest, "var.NAME"))
        if head == "local":
            return self._local(_single(ref, rest, "local.NAME"))
        if head in RESOURCE_TYPES:
            if len(rest) != 2:
                raise TemplateError(f"'{ref}': a resource reference is TYPE.NAME.ATTRIBUTE")
            return self._resource(Address(head, rest[0]), rest[1])
        raise TemplateError(
            f"unknown reference '{ref}'; use var., local. or a resource TYPE.NAME.ATTR"
        )

    def _variable(self, name: str) -> Evaluated:
        variable = self._variables.get(name)
        if variable is None:
            raise TemplateError(f"undefined variable {name!r} (declare it in a variable block)")
        if variable.value is MISSING:
            raise MissingVariable(name)
        if variable.value is INVALID:
            raise InvalidVariable(name)
        return Evaluated(variable.value, variable.sensitive)

    def _local(self, name: str) -> Evaluated:
        if name in self._locals:
            return self._locals[name]
        if name not in self._locals_raw:
            raise TemplateError(f"undefined local {name!r}")
        if name in self._evaluating:
            cycle = [*self._evaluating[self._evaluating.index(name) :], name]
            raise TemplateError(
                "locals refer to each other: " + " -> ".join(f"local.{n}" for n in cycle)
            )
        self._evaluating.append(name)
        try:
            result = self.evaluate(self._locals_raw[name])
        finally:
            self._evaluating.pop()
        self._locals[name] = result
        return result

    def _call(self, call: Call) -> Evaluated:
        if isinstance(call.argument, Ref):
            argument = self.reference(call.argument)
        else:
            argument = self._template_parts(list(call.argument))
        if not isinstance(argument.value, str):
            raise TemplateError(f"{call.function}() needs a string known before apply")
        # A name or path built from a sensitive variable is itself kept out of messages.
        shown = "(sensitive value)" if argument.sensitive else repr(argument.value)
        if call.function == "env":
            if argument.value not in self._env:
                raise TemplateError(f"environment variable {shown} is not set")
            return Evaluated(self._env[argument.value], argument.sensitive)
        return Evaluated(self._read_file(argument.value, shown), argument.sensitive)

    def _template_parts(self, parts: list[str | Ref | Call]) -> Evaluated:
        values = [self._part(p) for p in parts]
        if any(not isinstance(v.value, str | int | float) for v in values):
            raise TemplateError("function arguments must be strings known before apply")
        return Evaluated("".join(str(v.value) for v in values), any(v.sensitive for v in values))

    def _read_file(self, relative: str, shown: str) -> str:
        path = (self._directory / relative).resolve()
        if not path.is_relative_to(self._directory):
            raise TemplateError(
                f"file({shown}) is outside the configuration directory; files must stay inside it"
            )
        if path.exists() and not path.is_file():
            # Opening a FIFO would block forever; a directory cannot be read either.
            raise TemplateError(f"file({shown}): not a regular file")
        try:
            return decode_text(path.read_bytes())
        except FileNotFoundError:
            raise TemplateError(f"file({shown}): no such file") from None
        except UnicodeDecodeError:
            raise TemplateError(f"file({shown}): not a text file (DER? use PEM)") from None
        except OSError as exc:
            raise TemplateError(f"file({shown}): cannot read: {exc.strerror}") from None


def _single(ref: Ref, rest: tuple[str, ...], form: str) -> str:
    if len(rest) != 1:
        raise TemplateError(f"'{ref}': expected {form}")
    return rest[0]
