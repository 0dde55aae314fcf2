"""`aopctl cert inspect FILE...`: what a certificate or key file holds, without its secrets."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from planner import certs
from planner.certs import CertificateInfo, PrivateKeyInfo
from planner.errors import CertificateError
from planner.wording import plural


@click.group()
def cert() -> None:
    """Inspect certificates and private keys."""


def _expiry(info: CertificateInfo, now: datetime) -> str:
    when = info.not_after.strftime("%Y-%m-%d %H:%M:%S UTC")
    if info.is_expired(now):
        return f"{when} (EXPIRED {(now - info.not_after).days} days ago)"
    return f"{when} ({info.days_left(now)} days left)"


def _certificate_lines(info: CertificateInfo, now: datetime) -> list[tuple[str, str]]:
    lines = [
        ("sha256", info.fingerprint_sha256),
        ("subject", info.subject),
        ("sans", ", ".join(info.sans) or "(none)"),
        ("issuer", info.issuer),
        ("serial", info.serial_number),
        ("not after", _expiry(info, now)),
        ("key", f"{info.key_type} ({info.key_size} bits)"),
        ("public key sha256", info.public_key_sha256),
        ("ca", "yes (CA:TRUE)" if info.is_ca else "no"),
    ]
    if info.chain_length > 1:
        more = plural(info.chain_length - 1, "more certificate")
        lines.append(("chain", f"{more} after the leaf"))
    return lines


def _key_lines(info: PrivateKeyInfo) -> list[tuple[str, str]]:
    return [
        ("private key", f"{info.key_type} ({info.key_size} bits), contents not shown"),
        ("public key sha256", info.public_key_sha256),
    ]


def _render_text(name: str, info: CertificateInfo | PrivateKeyInfo, now: datetime) -> str:
    rows = _certificate_lines(info, now) if isinstance(info, CertificateInfo) else _key_lines(info)
    width = max(len(label) for label, _ in rows) + 1
    return "\n".join([name, *(f"  {label + ':':<{width}} {value}" for label, value in rows)])


def _describe(
    name: str, info: CertificateInfo | PrivateKeyInfo, now: datetime
) -> dict[str, object]:
    details = (
        certs.describe(info, now) if isinstance(info, CertificateInfo) else certs.describe_key(info)
    )
    return {"file": name, **details}


def _load(path: Path) -> CertificateInfo | PrivateKeyInfo:
    try:
        text = certs.read_pem_file(path)
    except OSError as exc:
        raise CertificateError(f"cannot read: {exc.strerror or exc}") from None
    return certs.parse_pem(text)


@cert.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of text.")
def inspect(files: tuple[Path, ...], as_json: bool) -> None:
    """Print fingerprint, subject, SANs, expiry, key type and CA flag of each FILE.

    A private key file is summarised (type, size, public-key fingerprint), never printed.
    Every unusable file is reported before exiting with status 1.
    """
    now = datetime.now(UTC)
    loaded: list[tuple[str, CertificateInfo | PrivateKeyInfo]] = []
    problems: list[str] = []
    for path in files:
        try:
            loaded.append((str(path), _load(path)))
        except CertificateError as exc:
            problems.append(f"{path}: {exc.message}")
    if as_json:
        click.echo(json.dumps([_describe(name, info, now) for name, info in loaded], indent=2))
    else:
        click.echo(
            "\n\n".join(_render_text(name, info, now) for name, info in loaded), nl=bool(loaded)
        )
    if len(problems) == 1:
        raise CertificateError(problems[0])
    if problems:
        raise CertificateError(f"{len(problems)} files are not usable", problems)
