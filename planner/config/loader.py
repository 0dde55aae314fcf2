"""Loads a configuration directory into validated, evaluated resources.

Every problem in every file is collected as a Diagnostic; one ConfigError carries them all.
Nothing here touches the network or writes a file.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from planner import certs
from planner.config import schema, source, templates
from planner.config.evaluate import Evaluated, Evaluator, InvalidVariable, MissingVariable
from planner.config.templates import Deferred, Reference, TemplateError
from planner.config.variables import Variable, VariableInputs, resolve
from planner.errors import CertificateError, ConfigError, Diagnostic, Severity
from planner.graph import CycleFound, Graph
from planner.keytext import HIDDEN, holds_private_key
from planner.model import (
    MAX_HOSTNAME_CERTIFICATES_PER_ZONE,
    MAX_HOSTNAMES_PER_CERTIFICATE,
    RESOURCE_TYPES,
    SETTING_OF,
    ZONE_ID_RE,
    Address,
    Attribute,
    Kind,
    ResourceConfig,
)

_HOSTNAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


class PrivateKey:
    """Key text held until upload; never printed, compared or stored."""

    __slots__ = ("_pem", "variable")

    def __init__(self, pem: str | None, variable: str | None) -> None:
        self._pem = pem
        self.variable = variable  # the variable that should have supplied a missing key

    def reveal(self) -> str | None:
        return self._pem

    def __repr__(self) -> str:
        return "PrivateKey((sensitive value))"


@dataclass(frozen=True)
class Output:
    name: str
    value: Any
    sensitive: bool
    description: str = ""


@dataclass(frozen=True)
class Configuration:
    directory: Path
    files: tuple[str, ...]
    resources: Mapping[Address, ResourceConfig]
    certificates: Mapping[Address, certs.CertificateInfo]
    private_keys: Mapping[Address, PrivateKey]
    outputs: Mapping[str, Output]
    settings: Mapping[str, Any]
    graph: Graph
    warnings: tuple[Diagnostic, ...] = ()
    variables: Mapping[str, Variable] = field(default_factory=dict)


@dataclass
class _Block:
    file: str
    raw: Any


@dataclass
class _Merged:
    variables: dict[str, _Block] = field(default_factory=dict)
    locals: dict[str, _Block] = field(default_factory=dict)
    resources: dict[Address, _Block] = field(default_factory=dict)
    outputs: dict[str, _Block] = field(default_factory=dict)
    settings: dict[str, _Block] = field(default_factory=dict)


def _cut(location: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The part of a file to drop for a schema error at `location`: the bad attribute of a
    resource (the resource itself stays declared, so references to it still resolve), or the
    bad entry of another block. An error on a whole resource (a missing attribute) drops
    nothing: the evaluation skips what is absent."""
    if location[:1] == ("resource",):
        return location[:4] if len(location) != 3 else ()
    return location[:2]


def _usable(file: source.SourceFile, locations: list[tuple[str | int, ...]]) -> source.SourceFile:
    """The file without the parts that failed the schema, so the rest can still be checked."""
    if not isinstance(file.data, dict) or () in locations:
        return source.SourceFile(file.path, file.name, {})
    data = copy.deepcopy(file.data)
    for location in sorted({_cut(loc) for loc in locations} - {()}, key=len, reverse=True):
        *parents, last = location
        holder = data
        for key in parents:
            holder = holder[key]
        if isinstance(holder, dict):
            holder.pop(last, None)
    for block in ("variable", "locals", "resource", "output", "aopctl"):
        if not isinstance(data.get(block, {}), dict):
            data.pop(block)
    for named in data.get("resource", {}).values():
        if isinstance(named, dict):
            # A resource whose body is not an object stays declared, with no attributes.
            for name, body in named.items():
                if name != "//" and not isinstance(body, dict):
                    named[name] = {}
    return source.SourceFile(file.path, file.name, data)


def _merge(files: list[source.SourceFile]) -> tuple[_Merged, list[Diagnostic]]:
    merged = _Merged()
    problems = []

    def add(table: dict[Any, _Block], key: Any, label: str, src: str, raw: Any, path: str) -> None:
        if key in table:
            other = table[key].file
            problems.append(Diagnostic(src, path, f"{label} is also defined in {other}"))
        else:
            table[key] = _Block(src, raw)

    named_blocks = (
        ("variable", merged.variables, "variable {!r}"),
        ("locals", merged.locals, "local {!r}"),
        ("output", merged.outputs, "output {!r}"),
        ("aopctl", merged.settings, "aopctl.{}"),
    )
    for file in files:
        data = source.strip_comments(file.data)
        for block, table, label in named_blocks:
            for name, raw in data.get(block, {}).items():
                path = source.json_path(block, name)
                add(table, name, label.format(name), file.name, raw, path)
        for type_name, named in data.get("resource", {}).items():
            for name, raw in named.items():
                address = Address(type_name, name)
                path = source.json_path("resource", type_name, name)
                add(merged.resources, address, str(address), file.name, raw, path)
    return merged, problems


class _Loader:
    def __init__(
        self,
        directory: Path,
        merged: _Merged,
        variables: Mapping[str, Variable],
        env: Mapping[str, str],
        now: datetime,
        expired_severity: Severity,
    ) -> None:
        self.directory = directory
        self.merged = merged
        self.variables = variables
        self.now = now
        self.expired_severity = expired_severity
        self.diagnostics: list[Diagnostic] = []
        self.evaluated: dict[Address, dict[str, Evaluated]] = {}
        self.certificates: dict[Address, certs.CertificateInfo] = {}
        self.private_keys: dict[Address, PrivateKey] = {}
        self.graph_dependencies: dict[Address, set[Address]] = {}
        locals_raw = {name: block.raw for name, block in merged.locals.items()}
        self.evaluator = Evaluator(directory, variables, locals_raw, env, self._lookup)

    def error(self, file: str, path: str, message: str, severity: Severity = "error") -> None:
        self.diagnostics.append(Diagnostic(file, path, message, severity))

    def template_error(self, file: str, path: str, exc: TemplateError) -> None:
        if not isinstance(exc, InvalidVariable):  # reported once, at the variable
            self.error(file, path, str(exc))

    # -- references and the graph ------------------------------------------------------------

    def _references(
        self, raw: Any, seen_locals: frozenset[str] = frozenset()
    ) -> list[templates.Ref]:
        """Resource references in a raw value, looking through locals."""
        found: list[templates.Ref] = []
        if isinstance(raw, str) and templates.has_template(raw):
            for ref in templates.references(templates.parse(raw)):
                if (
                    ref.parts[0] == "local"
                    and len(ref.parts) == 2
                    and ref.parts[1] not in seen_locals
                ):
                    block = self.merged.locals.get(ref.parts[1])
                    if block is not None:
                        found.extend(self._references(block.raw, seen_locals | {ref.parts[1]}))
                else:
                    found.append(ref)
        elif isinstance(raw, list):
            for item in raw:
                found.extend(self._references(item, seen_locals))
        elif isinstance(raw, dict):
            for value in raw.values():
                found.extend(self._references(value, seen_locals))
        return found

    def _dependencies(self, address: Address, block: _Block) -> set[Address]:
        deps: set[Address] = set()
        base = source.json_path("resource", address.type, address.name)
        raw = dict(block.raw)
        for attr, value in raw.items():
            if attr in ("depends_on", "lifecycle"):
                continue
            try:
                refs = self._references(value)
            except TemplateError as exc:
                self.error(block.file, f"{base}.{attr}", str(exc))
                continue
            for ref in refs:
                target = self._check_reference(ref, block.file, f"{base}.{attr}")
                if target is not None:
                    deps.add(target)
        for i, text in enumerate(raw.get("depends_on", [])):
            target = Address(*text.split(".", 1))
            if target not in self.merged.resources:
                self.error(
                    block.file, f"{base}.depends_on[{i}]", f"depends on undeclared resource {text}"
                )
            else:
                deps.add(target)
        if address in deps:
            self.error(block.file, base, "a resource cannot refer to itself")
            deps.discard(address)
        return deps

    def _check_reference(self, ref: templates.Ref, file: str, path: str) -> Address | None:
        if ref.parts[0] not in RESOURCE_TYPES or len(ref.parts) != 3:
            return None  # variables and locals are checked when evaluated
        address = Address(ref.parts[0], ref.parts[1])
        if address not in self.merged.resources:
            names = [str(a) for a in self.merged.resources if a.type == address.type]
            self.error(
                file,
                path,
                f"reference to undeclared resource {address}"
                f"{schema.did_you_mean(str(address), names)}",
            )
            return None
        if not RESOURCE_TYPES[address.type].has(ref.parts[2]):
            attrs = [
                *RESOURCE_TYPES[address.type].attribute_names,
                *RESOURCE_TYPES[address.type].computed,
            ]
            self.error(
                file,
                path,
                f"{address.type} has no attribute {ref.parts[2]!r}"
                f"{schema.did_you_mean(ref.parts[2], attrs)}",
            )
            return None
        return address

    # -- evaluation ---------------------------------------------------------------------------

    def _lookup(self, address: Address, attribute: str) -> Evaluated:
        resource_type = RESOURCE_TYPES[address.type]
        declared = resource_type.attribute(attribute)
        if declared is not None and declared.sensitive:
            # The key stays in the secret store until upload; it never flows into other values.
            raise TemplateError(f"{address}.{attribute} is a secret and cannot be referenced")
        values = self.evaluated.get(address, {})
        if attribute in values:  # computed attributes never are
            return values[attribute]
        # Computed, or not evaluated: an undeclared resource or attribute, a value that failed
        # or an order a cycle forced. Those are reported already; a Deferred does not cascade.
        return Evaluated(Deferred((Reference(address, attribute),)))

    def evaluate_resources(self, order: list[Address]) -> dict[Address, ResourceConfig]:
        resources = {}
        for address in order:
            block = self.merged.resources[address]
            resources[address] = self._evaluate_resource(address, block)
        return resources

    def _evaluate_resource(self, address: Address, block: _Block) -> ResourceConfig:
        resource_type = RESOURCE_TYPES[address.type]
        base = source.json_path("resource", address.type, address.name)
        values: dict[str, Evaluated] = {}
        for attribute in resource_type.attributes:
            path = f"{base}.{attribute.name}"
            if attribute.name not in block.raw:
                if attribute.default is not None:
                    values[attribute.name] = Evaluated(attribute.default)
                continue
            raw = block.raw[attribute.name]
            if resource_type.is_certificate and attribute.name == "private_key":
                self.private_keys[address] = self._private_key(raw, block.file, path)
                continue
            try:
                values[attribute.name] = self.evaluator.evaluate(raw)
            except TemplateError as exc:
                self.template_error(block.file, path, exc)
                continue
            self._check_value(attribute, values[attribute.name], block.file, path)
        self.evaluated[address] = values
        if resource_type.is_certificate:
            self._check_certificate(address, values, block.file, base)
        lifecycle = block.raw.get("lifecycle", {})
        return ResourceConfig(
            address=address,
            attributes={k: v.value for k, v in values.items()},
            file=block.file,
            dependencies=tuple(sorted(self.graph_dependencies.get(address, ()))),
            sensitive=frozenset(k for k, v in values.items() if v.sensitive)
            | frozenset(a.name for a in resource_type.attributes if a.sensitive),
            prevent_destroy=bool(lifecycle.get("prevent_destroy", False)),
        )

    def _private_key(self, raw: Any, file: str, path: str) -> PrivateKey:
        try:
            value = self.evaluator.evaluate(raw).value
        except MissingVariable as exc:
            # A key is only needed to upload; the planner complains if it has to.
            return PrivateKey(None, exc.name)
        except TemplateError as exc:
            self.template_error(file, path, exc)
            return PrivateKey(None, None)
        if not isinstance(value, str):
            self.error(file, path, "must be a PEM string known before apply")
            return PrivateKey(None, None)
        try:
            return PrivateKey(certs.normalize_private_key(value), None)
        except CertificateError as exc:
            self.error(file, path, exc.message)
            return PrivateKey(None, None)

    def _check_value(
        self, attribute: Attribute, evaluated: Evaluated, file: str, path: str
    ) -> None:
        value, kind = evaluated.value, attribute.kind
        if isinstance(value, Deferred):
            return
        if kind is not Kind.LIST_OF_STRINGS and not kind.holds(value):
            noun = "boolean" if kind is Kind.BOOL else "string"
            self.error(file, path, f"must be a {noun}, got {type(value).__name__}")
        elif kind is Kind.STRING and attribute.choices and value not in attribute.choices:
            self.error(file, path, "must be one of " + ", ".join(attribute.choices))
        elif kind is Kind.LIST_OF_STRINGS:
            self._check_hostnames(value, evaluated.sensitive, file, path)
        elif attribute.name == "zone":
            self._check_zone(value, evaluated.sensitive, file, path)

    def _check_zone(self, value: str, sensitive: bool, file: str, path: str) -> None:
        if not (ZONE_ID_RE.match(value) or _HOSTNAME.match(value)):
            shown = _shown(value, sensitive)
            self.error(file, path, f"{shown} is neither a zone name nor a 32-character zone id")

    def _check_hostnames(self, value: Any, sensitive: bool, file: str, path: str) -> None:
        if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
            self.error(file, path, "must be a list of hostnames")
            return
        if not 1 <= len(value) <= MAX_HOSTNAMES_PER_CERTIFICATE:
            self.error(file, path, f"must list 1 to {MAX_HOSTNAMES_PER_CERTIFICATE} hostnames")
        for i, hostname in enumerate(value):
            if not _HOSTNAME.match(hostname) or len(hostname) > 255:
                shown = _shown(hostname, sensitive)
                self.error(file, f"{path}[{i}]", f"{shown} is not a valid lower-case hostname")
        duplicates = sorted({h for h in value if value.count(h) > 1})
        if duplicates:
            shown = ", ".join(_shown(h, sensitive, quote=False) for h in duplicates)
            self.error(file, path, "hostnames listed twice: " + shown)

    def _check_certificate(
        self, address: Address, values: dict[str, Evaluated], file: str, base: str
    ) -> None:
        value = values.get("certificate")
        if value is None:
            return
        if isinstance(value.value, Deferred):
            self.error(file, f"{base}.certificate", "must be a PEM string known before apply")
        if not isinstance(value.value, str):
            return  # any other kind was reported by _check_value
        try:
            info = certs.parse_certificate(value.value)
        except CertificateError as exc:
            self.error(file, f"{base}.certificate", exc.message)
            return
        values["certificate"] = Evaluated(info.pem, value.sensitive)
        self.certificates[address] = info
        leaf = address.type == "aop_hostname_certificate"
        problems = certs.check_certificate(
            info, leaf_required=leaf, now=self.now, expired=self.expired_severity
        )
        for severity, message in problems:
            self.error(file, f"{base}.certificate", message, severity)
        key = self.private_keys.get(address)
        pem = key.reveal() if key else None
        if pem is None:
            return
        try:
            key_info = certs.parse_private_key(pem)
        except CertificateError as exc:
            self.error(file, f"{base}.private_key", exc.message)
            return
        if not certs.key_matches(info, key_info):
            self.error(file, f"{base}.private_key", "private key does not match the certificate")

    # -- whole-configuration checks ------------------------------------------------------------

    def check_limits(self, resources: Mapping[Address, ResourceConfig]) -> None:
        """Limits Cloudflare enforces, checked before anything is sent."""
        per_zone: dict[Any, list[Address]] = {}
        fingerprints: dict[tuple[Any, str, str], Address] = {}
        for address, info in sorted(self.certificates.items()):
            zone = resources[address].zone
            if not _hashable(zone):
                continue  # already reported as not a string
            if address.type == "aop_hostname_certificate":
                per_zone.setdefault(zone, []).append(address)
            key = (zone, address.type, info.fingerprint_sha256)
            if key in fingerprints:
                self._resource_error(
                    address, "certificate", f"the same certificate as {fingerprints[key]}"
                )
            fingerprints.setdefault(key, address)
        for zone, addresses in per_zone.items():
            if len(addresses) > MAX_HOSTNAME_CERTIFICATES_PER_ZONE:
                shown = _shown(zone, "zone" in resources[addresses[-1]].sensitive, quote=False)
                self._resource_error(
                    addresses[-1],
                    "zone",
                    f"zone {shown} would have "
                    f"{len(addresses)} hostname certificates; Cloudflare allows "
                    f"{MAX_HOSTNAME_CERTIFICATES_PER_ZONE}",
                )
        self._check_settings(resources)
        self._check_bindings(resources)

    def _check_settings(self, resources: Mapping[Address, ResourceConfig]) -> None:
        """A zone has one value of each setting: two resources for it would undo each other on
        every apply. (A zone named once by name and once by id is caught by the planner.)"""
        owner: dict[tuple[str, Any], Address] = {}
        for address, resource in sorted(resources.items()):
            if address.type not in SETTING_OF or not _hashable(resource.zone):
                continue
            first = owner.setdefault((address.type, resource.zone), address)
            if first != address:
                shown = _shown(resource.zone, "zone" in resource.sensitive, quote=False)
                self._resource_error(
                    address, "zone", f"zone {shown} already has its {address.type} in {first}"
                )

    def _check_bindings(self, resources: Mapping[Address, ResourceConfig]) -> None:
        # A hostname belongs to one zone, so two bindings of it conflict whatever their `zone`
        # says (one may name the zone, the other give its id).
        owner: dict[str, Address] = {}
        per_certificate: dict[Any, int] = {}
        for address, resource in sorted(resources.items()):
            if address.type != "aop_hostname_binding":
                continue
            self._check_certificate_zone(address, resource, resources)
            hostnames = resource.attributes.get("hostnames")
            if not isinstance(hostnames, list) or not _hashable(resource.zone, *hostnames):
                continue  # already reported as the wrong kind
            sensitive = "hostnames" in resource.sensitive
            for hostname in hostnames:
                if owner.setdefault(hostname, address) != address:
                    shown = _shown(hostname, sensitive, quote=False)
                    self._resource_error(
                        address, "hostnames", f"{shown} is already bound by {owner[hostname]}"
                    )
            if len(hostnames) > MAX_HOSTNAMES_PER_CERTIFICATE:
                continue  # already reported for this binding alone
            certificate = resource.attributes.get("certificate_id")
            marker = repr(certificate)
            per_certificate[marker] = per_certificate.get(marker, 0) + len(hostnames)
            if per_certificate[marker] > MAX_HOSTNAMES_PER_CERTIFICATE:
                self._resource_error(
                    address,
                    "hostnames",
                    f"more than {MAX_HOSTNAMES_PER_CERTIFICATE} hostnames bound to one certificate",
                )

    def _check_certificate_zone(
        self, address: Address, binding: ResourceConfig, resources: Mapping[Address, ResourceConfig]
    ) -> None:
        """A hostname can only use a certificate of its own zone. Zones given one by name and
        one by id are compared by the planner, which resolves them."""
        referred = certificate_reference(binding)
        certificate = resources.get(referred) if referred else None
        if certificate is None:
            return
        zones = (binding.zone, certificate.zone)
        if not all(isinstance(z, str) for z in zones) or zones[0] == zones[1]:
            return
        if len({bool(ZONE_ID_RE.match(z)) for z in zones}) == 1:
            sensitive = "zone" in binding.sensitive or "zone" in certificate.sensitive
            there, here = (_shown(z, sensitive, quote=False) for z in zones[::-1])
            self._resource_error(
                address,
                "certificate_id",
                f"{referred} is in zone {there}, not {here}; a hostname can only use a "
                "certificate of its own zone",
            )

    def _resource_error(self, address: Address, attribute: str, message: str) -> None:
        block = self.merged.resources[address]
        path = source.json_path("resource", address.type, address.name, attribute)
        self.error(block.file, path, message)

    def _check_output_references(self, block: _Block, path: str) -> bool:
        """Outputs make no graph edges, but their references must exist all the same."""
        try:
            refs = self._references(block.raw.get("value"))
        except TemplateError:
            return True  # the evaluation reports it
        before = len(self.diagnostics)
        for ref in refs:
            self._check_reference(ref, block.file, path)
        return len(self.diagnostics) == before

    def outputs(self) -> dict[str, Output]:
        outputs = {}
        for name, block in sorted(self.merged.outputs.items()):
            path = source.json_path("output", name, "value")
            if not self._check_output_references(block, path):
                continue
            try:
                value = self.evaluator.evaluate(block.raw.get("value"))
            except TemplateError as exc:
                self.template_error(block.file, path, exc)
                continue
            if holds_private_key(str(value.value)):
                # Outputs are stored in the state, which never holds a key.
                self.error(block.file, path, "an output cannot hold a private key")
                continue
            sensitive = bool(block.raw.get("sensitive", False)) or value.sensitive
            outputs[name] = Output(name, value.value, sensitive, block.raw.get("description", ""))
        return outputs


def certificate_reference(binding: ResourceConfig) -> Address | None:
    """The hostname certificate resource a binding's `certificate_id` refers to, if any (it
    may instead give a literal id of a certificate uploaded outside the configuration)."""
    value = binding.attributes.get("certificate_id")
    for reference in value.references if isinstance(value, Deferred) else ():
        if reference.address.type == "aop_hostname_certificate":
            return reference.address
    return None


def _shown(value: Any, sensitive: bool, *, quote: bool = True) -> str:
    """A value as an error message may show it: a sensitive one (or a pasted key) never is."""
    if sensitive or holds_private_key(str(value)):
        return HIDDEN
    return repr(value) if quote else str(value)


def _hashable(*values: Any) -> bool:
    return all(isinstance(v, str | Deferred) for v in values)


def load_configuration(
    directory: Path,
    inputs: VariableInputs | None = None,
    *,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    expired_is_error: bool = True,
) -> Configuration:
    """Read, validate and evaluate every `*.aop.json` in `directory`; raise ConfigError listing
    every problem found.

    An expired certificate is an error unless `expired_is_error` is False (drift reports it).
    """
    inputs = inputs or VariableInputs()
    files, diagnostics = source.read_directory(directory)
    usable = []
    for file in files:
        schema_problems = schema.validate_file(file)
        diagnostics.extend(d for _, d in schema_problems)
        usable.append(_usable(file, [loc for loc, _ in schema_problems]))
    merged, merge_problems = _merge(usable)
    declared = {name: (b.file, b.raw) for name, b in merged.variables.items()}
    variables, variable_problems = resolve(declared, inputs)
    loader = _Loader(
        directory,
        merged,
        variables,
        env if env is not None else {},
        now or datetime.now(UTC),
        "error" if expired_is_error else "warning",
    )
    loader.diagnostics.extend(diagnostics + merge_problems + variable_problems)
    for address, block in sorted(merged.resources.items()):
        loader.graph_dependencies[address] = loader._dependencies(address, block)
    graph = Graph(loader.graph_dependencies)
    try:
        order = graph.order()
    except CycleFound as exc:
        first = exc.cycle[0]
        block = merged.resources[Address(*first.split(".", 1))]
        loader.error(block.file, source.json_path("resource", *first.split(".", 1)), str(exc))
        order = sorted(merged.resources)
    resources = loader.evaluate_resources(order)
    loader.check_limits(resources)
    outputs = loader.outputs()
    # A template error is found both while collecting references and while evaluating.
    loader.diagnostics = list(dict.fromkeys(loader.diagnostics))
    if any(d.severity == "error" for d in loader.diagnostics):
        raise ConfigError(loader.diagnostics)
    return Configuration(
        directory=directory,
        files=tuple(f.name for f in files),
        resources=dict(sorted(resources.items())),
        certificates=loader.certificates,
        private_keys=loader.private_keys,
        outputs=outputs,
        settings={k: b.raw for k, b in merged.settings.items()},
        graph=graph,
        warnings=tuple(sorted(d for d in loader.diagnostics if d.severity == "warning")),
        variables=variables,
    )
