"""Loading a configuration directory: files, merging, evaluated resources, checks, limits."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from certgen import make_ca, make_leaf
from click.testing import CliRunner

from planner import certs
from planner.cli import main
from planner.config import load_configuration
from planner.config.templates import Deferred
from planner.errors import ConfigError
from planner.model import Address

SSL = Address("aop_ssl_mode", "main")
CERT = Address("aop_hostname_certificate", "app")
BINDING = Address("aop_hostname_binding", "app")


def write(directory: Path, config: Any, name: str = "main.aop.json") -> Path:
    text = config if isinstance(config, str) else json.dumps(config, indent=2)
    (directory / name).write_text(text, encoding="utf-8")
    return directory


def reasons(directory: Path, **load: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_configuration(directory, **load)
    return caught.value.reasons


def ssl(zone: str = "example.com", mode: str = "full") -> dict[str, Any]:
    return {"resource": {"aop_ssl_mode": {"main": {"zone": zone, "mode": mode}}}}


def certificate_config(**attributes: Any) -> dict[str, Any]:
    body = {"zone": "example.com", "certificate": '${file("app.crt.pem")}', **attributes}
    return {"resource": {"aop_hostname_certificate": {"app": body}}}


# -- files ------------------------------------------------------------------------------------


def test_files_are_read_in_name_order_and_merged(tmp_path: Path) -> None:
    write(tmp_path, {"variable": {"zone": {"default": "example.com"}}}, "b.aop.json")
    write(tmp_path, ssl("${var.zone}"), "a.aop.json")
    write(tmp_path, {"resource": {}}, "notes.json")  # not a configuration file
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", ssl(), "c.aop.json")  # not read: no recursion
    loaded = load_configuration(tmp_path)
    assert loaded.files == ("a.aop.json", "b.aop.json")
    assert list(loaded.resources) == [SSL]
    assert loaded.resources[SSL].zone == "example.com"
    assert loaded.resources[SSL].file == "a.aop.json"


def test_comments_are_ignored_everywhere(tmp_path: Path) -> None:
    config = {
        "//": "top",
        "variable": {"//": "v", "zone": {"//": "z", "default": "example.com"}},
        "resource": {
            "//": "r",
            "aop_ssl_mode": {"//": "t", "main": {"//": "m", "zone": "${var.zone}", "mode": "full"}},
        },
        "output": {"//": "o", "zone": {"//": "x", "value": "${aop_ssl_mode.main.zone}"}},
    }
    loaded = load_configuration(write(tmp_path, config))
    assert dict(loaded.resources[SSL].attributes) == {"zone": "example.com", "mode": "full"}
    assert loaded.outputs["zone"].value == "example.com"


def test_empty_and_missing_directories(tmp_path: Path) -> None:
    assert any("no .aop.json files in this directory" in r for r in reasons(tmp_path))
    assert any("configuration directory does not exist" in r for r in reasons(tmp_path / "nope"))


def test_an_empty_configuration_file_is_valid(tmp_path: Path) -> None:
    loaded = load_configuration(write(tmp_path, {}))
    assert loaded.resources == {}


def test_not_utf8_is_reported(tmp_path: Path) -> None:
    (tmp_path / "main.aop.json").write_bytes(b'{"//": "caf\xe9"}')
    assert reasons(tmp_path) == ["error: main.aop.json: cannot read file: not UTF-8 text"]


def load_in_thread(directory: Path) -> list[str]:
    """Load in a thread so a regression that blocks on a FIFO fails instead of hanging."""
    found: list[str] = []

    def run() -> None:
        try:
            load_configuration(directory)
        except ConfigError as exc:
            found.extend(exc.reasons)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "loading blocked on a FIFO"
    return found


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_like_a_configuration_file_is_reported(tmp_path: Path) -> None:
    write(tmp_path, ssl())
    os.mkfifo(tmp_path / "pipe.aop.json")
    assert load_in_thread(tmp_path) == [
        "error: pipe.aop.json: cannot read file: not a regular file"
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_file_function_refuses_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "app.crt.pem")
    write(tmp_path, certificate_config())
    found = load_in_thread(tmp_path)
    assert found == [
        "error: main.aop.json: $.resource.aop_hostname_certificate.app.certificate: "
        "file('app.crt.pem'): not a regular file"
    ]


def test_file_function_may_not_follow_a_symlink_out(tmp_path: Path) -> None:
    outside = tmp_path / "outside.pem"
    outside.write_text(make_leaf("app.example.com").cert_pem, encoding="utf-8")
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "app.crt.pem").symlink_to(outside)
    write(config_dir, certificate_config())
    assert "is outside the configuration directory" in reasons(config_dir)[0]


def test_file_function_reads_relative_to_the_configuration_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    leaf = make_leaf("app.example.com", sans=["app.example.com"])
    (tmp_path / "app.crt.pem").write_text(leaf.cert_pem, encoding="utf-8")
    write(tmp_path, certificate_config())
    monkeypatch.chdir("/")
    loaded = load_configuration(tmp_path)
    assert loaded.certificates[CERT].fingerprint_sha256 == leaf.fingerprint_sha256


# -- evaluated resources ------------------------------------------------------------------------


def test_resource_config_carries_dependencies_defaults_and_lifecycle(tmp_path: Path) -> None:
    leaf = make_leaf("app.example.com", sans=["app.example.com"])
    (tmp_path / "app.crt.pem").write_text(leaf.cert_pem, encoding="utf-8")
    config = certificate_config()
    config["resource"]["aop_ssl_mode"] = ssl()["resource"]["aop_ssl_mode"]
    config["resource"]["aop_hostname_binding"] = {
        "app": {
            "zone": "example.com",
            "hostnames": ["app.example.com"],
            "certificate_id": "${aop_hostname_certificate.app.id}",
            "depends_on": ["aop_ssl_mode.main"],
            "lifecycle": {"prevent_destroy": True},
        }
    }
    loaded = load_configuration(write(tmp_path, config))
    binding = loaded.resources[BINDING]
    assert binding.dependencies == (CERT, SSL)
    assert binding.prevent_destroy is True
    assert binding.attributes["enabled"] is True  # the default
    assert isinstance(binding.attributes["certificate_id"], Deferred)
    assert loaded.resources[SSL].prevent_destroy is False
    assert loaded.graph.order() == [CERT, SSL, BINDING]
    assert "private_key" in loaded.resources[CERT].sensitive


def test_certificates_are_normalised_and_parsed(tmp_path: Path) -> None:
    leaf = make_leaf("app.example.com", sans=["app.example.com"])
    crlf = "  " + leaf.cert_pem.replace("\n", "\r\n  ")  # indented, CRLF, as pasted
    (tmp_path / "app.crt.pem").write_text(crlf, encoding="utf-8", newline="")
    (tmp_path / "app.key.pem").write_text(leaf.key_pem, encoding="utf-8")
    loaded = load_configuration(
        write(tmp_path, certificate_config(private_key='${file("app.key.pem")}'))
    )
    assert loaded.resources[CERT].attributes["certificate"] == leaf.cert_pem
    assert loaded.certificates[CERT].fingerprint_sha256 == leaf.fingerprint_sha256


def test_a_certificate_inline_with_escaped_newlines(tmp_path: Path) -> None:
    leaf = make_leaf("app.example.com", sans=["app.example.com"])
    inline = leaf.cert_pem.replace("\n", "\\n")
    config = {
        "resource": {
            "aop_hostname_certificate": {"app": {"zone": "example.com", "certificate": inline}}
        }
    }
    loaded = load_configuration(write(tmp_path, config))
    assert loaded.certificates[CERT].fingerprint_sha256 == leaf.fingerprint_sha256


def test_a_certificate_close_to_expiry_is_a_warning(tmp_path: Path) -> None:
    leaf = make_leaf("app.example.com", sans=["app.example.com"], days=10)
    (tmp_path / "app.crt.pem").write_text(leaf.cert_pem, encoding="utf-8")
    write(tmp_path, certificate_config())
    loaded = load_configuration(tmp_path)
    assert [w.severity for w in loaded.warnings] == ["warning"]
    assert "certificate expires in" in loaded.warnings[0].message
    result = CliRunner().invoke(main, ["--chdir", str(tmp_path), "validate"])
    assert result.exit_code == 0
    assert "warning: main.aop.json: $.resource.aop_hostname_certificate.app.certificate" in (
        result.output
    )


def test_expiry_is_judged_at_the_given_time(tmp_path: Path) -> None:
    leaf = make_leaf("app.example.com", sans=["app.example.com"], days=100)
    (tmp_path / "app.crt.pem").write_text(leaf.cert_pem, encoding="utf-8")
    write(tmp_path, certificate_config())
    later = datetime.now(UTC) + timedelta(days=200)
    assert "certificate expired on" in reasons(tmp_path, now=later)[0]


def test_a_ca_is_fine_for_a_zone_certificate_but_not_per_hostname(tmp_path: Path) -> None:
    ca = make_ca()
    (tmp_path / "app.crt.pem").write_text(ca.cert_pem, encoding="utf-8")
    zone_level = {
        "resource": {
            "aop_zone_certificate": {
                "app": {"zone": "example.com", "certificate": '${file("app.crt.pem")}'}
            }
        }
    }
    assert load_configuration(write(tmp_path, zone_level)).certificates
    write(tmp_path, certificate_config())
    assert "certificate is a CA" in reasons(tmp_path)[0]


def test_a_rsa_certificate_with_a_traditional_key(tmp_path: Path) -> None:
    leaf = make_leaf("app.example.com", sans=["app.example.com"], key_type="rsa")
    (tmp_path / "app.crt.pem").write_text(leaf.cert_pem, encoding="utf-8")
    (tmp_path / "app.key.pem").write_text(leaf.key_pem_traditional, encoding="utf-8")
    write(tmp_path, certificate_config(private_key='${file("app.key.pem")}'))
    key = load_configuration(tmp_path).private_keys[CERT]
    assert "RSA PRIVATE KEY" in (key.reveal() or "")


def test_a_utf16_certificate_file_reads_as_cert_inspect_reads_it(tmp_path: Path) -> None:
    # `cmd > file` in Windows PowerShell 5 writes UTF-16 with a byte-order mark.
    leaf = make_leaf("app.example.com", sans=["app.example.com"])
    (tmp_path / "app.crt.pem").write_bytes(leaf.cert_pem.encode("utf-16"))
    write(tmp_path, certificate_config())
    assert load_configuration(tmp_path).certificates[CERT].pem == certs.normalize_pem(leaf.cert_pem)


def test_a_key_read_from_the_certificate_file_holds_the_key_alone(tmp_path: Path) -> None:
    leaf = make_leaf("app.example.com", sans=["app.example.com"])
    (tmp_path / "app.crt.pem").write_text(leaf.cert_pem + leaf.key_pem, encoding="utf-8")
    write(tmp_path, certificate_config(private_key='${file("app.crt.pem")}'))
    key = load_configuration(tmp_path).private_keys[CERT].reveal() or ""
    assert "CERTIFICATE" not in key and key.startswith("-----BEGIN PRIVATE KEY-----")


# -- robustness: values of the wrong shape never crash the loader -------------------------------


@pytest.mark.parametrize("body", ["x", None, [], 3])
def test_a_resource_that_is_not_an_object(tmp_path: Path, body: Any) -> None:
    config = {
        "resource": {
            "aop_ssl_mode": {"main": body},
            "aop_global": {"main": {"zone": "${aop_ssl_mode.main.zone}", "enabled": True}},
        }
    }
    assert reasons(write(tmp_path, config)) == [
        "error: main.aop.json: $.resource.aop_ssl_mode.main: must be an object"
    ]


def test_values_of_the_wrong_kind_from_variables(tmp_path: Path) -> None:
    config = {
        "variable": {
            "zone": {"default": ["example.com"]},
            "hosts": {"default": [["a.example.com"], {"b": 1}]},
            "flag": {"default": "yes"},
        },
        "resource": {
            "aop_hostname_binding": {
                "a": {"zone": "${var.zone}", "hostnames": ["a.example.com"], "certificate_id": "x"},
                "b": {
                    "zone": "example.com",
                    "hostnames": "${var.hosts}",
                    "certificate_id": "x",
                    "enabled": "${var.flag}",
                },
            },
            "aop_hostname_certificate": {
                "c": {"zone": "${var.zone}", "certificate": "${var.hosts}"}
            },
        },
    }
    assert reasons(write(tmp_path, config)) == [
        "error: main.aop.json: $.resource.aop_hostname_binding.a.zone: must be a string, got list",
        "error: main.aop.json: $.resource.aop_hostname_binding.b.enabled: "
        "must be a boolean, got str",
        "error: main.aop.json: $.resource.aop_hostname_binding.b.hostnames: "
        "must be a list of hostnames",
        "error: main.aop.json: $.resource.aop_hostname_certificate.c.certificate: "
        "must be a string, got list",
        "error: main.aop.json: $.resource.aop_hostname_certificate.c.zone: "
        "must be a string, got list",
    ]


def test_a_hostname_listed_twice_in_one_binding_is_one_problem(tmp_path: Path) -> None:
    config = {
        "variable": {"hosts": {"default": ["a.example.com", "a.example.com"]}},
        "resource": {
            "aop_hostname_binding": {
                "a": {"zone": "example.com", "hostnames": "${var.hosts}", "certificate_id": "x"}
            }
        },
    }
    assert reasons(write(tmp_path, config)) == [
        "error: main.aop.json: $.resource.aop_hostname_binding.a.hostnames: "
        "hostnames listed twice: a.example.com"
    ]


def test_a_certificate_from_another_resource_is_not_known_in_time(tmp_path: Path) -> None:
    config = {
        "resource": {
            "aop_zone_certificate": {
                "a": {"zone": "example.com", "certificate": "${aop_zone_certificate.b.id}"},
                "b": {"zone": "example.com", "certificate": "${aop_zone_certificate.a.id}x"},
            }
        }
    }
    found = reasons(write(tmp_path, config))
    assert "$.resource.aop_zone_certificate.b.certificate: must be a PEM string known " in found[-1]
    assert "dependency cycle: aop_zone_certificate.a -> aop_zone_certificate.b" in found[0]


def test_a_template_error_is_reported_once(tmp_path: Path) -> None:
    write(tmp_path, ssl("${var.zone"))
    assert len(reasons(tmp_path)) == 1


def test_a_reference_to_a_failed_attribute_does_not_cascade(tmp_path: Path) -> None:
    config = {
        "resource": {
            "aop_ssl_mode": {"main": {"zone": "${var.nope}", "mode": "full"}},
            "aop_global": {"main": {"zone": "${aop_ssl_mode.main.zone}", "enabled": True}},
        },
        "output": {"zone": {"value": "${aop_ssl_mode.main.zone}"}},
    }
    assert reasons(write(tmp_path, config)) == [
        "error: main.aop.json: $.resource.aop_ssl_mode.main.zone: undefined variable 'nope' "
        "(declare it in a variable block)"
    ]


def test_an_output_with_a_bad_attribute_reference(tmp_path: Path) -> None:
    config = {**ssl(), "output": {"x": {"value": "${aop_ssl_mode.main.fingerprint}"}}}
    assert reasons(write(tmp_path, config)) == [
        "error: main.aop.json: $.output.x.value: aop_ssl_mode has no attribute 'fingerprint'"
    ]


def test_outputs_keep_description_and_sensitivity(tmp_path: Path) -> None:
    config = {
        "variable": {"token": {"default": "t", "sensitive": True}},
        "output": {
            "a": {"value": "${var.token}", "description": "from a sensitive variable"},
            "b": {"value": "plain", "sensitive": True},
            "c": {"value": "plain"},
        },
    }
    loaded = load_configuration(write(tmp_path, config))
    assert {name: o.sensitive for name, o in loaded.outputs.items()} == {
        "a": True,
        "b": True,
        "c": False,
    }
    assert loaded.outputs["a"].description == "from a sensitive variable"


def test_state_settings_are_exposed(tmp_path: Path) -> None:
    config = {"aopctl": {"state": {"backend": "local", "path": "custom.state.json"}}}
    loaded = load_configuration(write(tmp_path, config))
    assert loaded.settings == {"state": {"backend": "local", "path": "custom.state.json"}}


def test_same_certificate_in_two_zones_is_allowed(tmp_path: Path) -> None:
    leaf = make_leaf("app.example.com", sans=["app.example.com"])
    (tmp_path / "app.crt.pem").write_text(leaf.cert_pem, encoding="utf-8")
    body = {"certificate": '${file("app.crt.pem")}'}
    config = {
        "resource": {
            "aop_hostname_certificate": {
                "com": {"zone": "example.com", **body},
                "net": {"zone": "example.net", **body},
            }
        }
    }
    assert len(load_configuration(write(tmp_path, config)).certificates) == 2


def test_ten_hostname_certificates_per_zone_are_allowed(tmp_path: Path) -> None:
    certificates = {}
    for i in range(10):
        (tmp_path / f"h{i}.pem").write_text(make_leaf(f"h{i}.example.com").cert_pem)
        certificates[f"h{i}"] = {"zone": "example.com", "certificate": f'${{file("h{i}.pem")}}'}
    config = {"resource": {"aop_hostname_certificate": certificates}}
    assert len(load_configuration(write(tmp_path, config)).certificates) == 10


def test_hundred_hostnames_on_one_certificate_are_allowed(tmp_path: Path) -> None:
    hosts = [f"h{i}.example.com" for i in range(100)]
    config = {
        "resource": {
            "aop_hostname_binding": {
                "a": {"zone": "example.com", "hostnames": hosts[:50], "certificate_id": "c1"},
                "b": {"zone": "example.com", "hostnames": hosts[50:], "certificate_id": "c1"},
                "c": {
                    "zone": "example.net",
                    "hostnames": ["h0.example.net"],
                    "certificate_id": "c2",
                },
            }
        }
    }
    assert len(load_configuration(write(tmp_path, config)).resources) == 3


def test_zone_ids_and_wildcards_are_accepted(tmp_path: Path) -> None:
    config = {
        "resource": {
            "aop_ssl_mode": {
                "main": {"zone": "0123456789abcdef0123456789abcdef", "mode": "strict"}
            },
            "aop_hostname_binding": {
                "a": {"zone": "example.com", "hostnames": ["*.example.com"], "certificate_id": "c"}
            },
        }
    }
    assert len(load_configuration(write(tmp_path, config)).resources) == 2
