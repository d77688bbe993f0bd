"""Malformed lineage.yml input that used to crash, slip through, or be reported without a place.

Why: every bad lineage.yml must end as one ``LineageValidationError`` whose lines read
``file:line: key.path: what was expected`` and as exit status 2 from both
``python -m catalog.lineage_file`` and ``catalog ingest``, never as a traceback, and
never as a value the store rejects (or, worse, keeps) later. Each test below wrote
down a defect before it was fixed; the parametrised test at the end sweeps the lot.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from catalog.cli import cli
from catalog.errors import EntityValidationError
from catalog.lineage_file import LineageValidationError, load_lineage_file, parse_lineage_text
from catalog.lineage_file.values import DEPLOYMENT_STATUSES
from catalog.model import Entity
from catalog.types import TypeRegistry

REPO = Path(__file__).resolve().parents[1]
INT_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1
DIGIT_LIMIT = sys.get_int_max_str_digits()


def model(purpose: str) -> str:
    """A file whose only model has ``purpose: <purpose>`` on line 4."""
    return f"version: 1\nmodels:\n  m:\n    purpose: {purpose}\n"


def deployment(extra: str) -> str:
    """A file whose only deployment has ``<extra>`` on line 6."""
    return f"version: 1\ndeployments:\n  d:\n    model: models:/m/1\n    mode: batch\n    {extra}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lineage.yml"
    path.write_text(text, encoding="utf-8")
    return path


def rejected(tmp_path: Path, text: str) -> tuple[Path, str]:
    """Write ``text``, load it, return (path, the error message); fail unless it is rejected."""
    path = write(tmp_path, text)
    with pytest.raises(LineageValidationError) as info:
        load_lineage_file(path)
    return path, str(info.value)


def check_module_cli(path: Path) -> str:
    """``python -m catalog.lineage_file FILE`` exits 2 without a traceback; returns its stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "catalog.lineage_file", str(path)],
        capture_output=True, text=True, timeout=60, cwd=REPO, check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stdout + result.stderr
    return result.stderr


def check_ingest_cli(path: Path, tmp_path: Path) -> str:
    """``catalog ingest --no-mlflow --lineage FILE`` exits 2 (no exception escapes); returns stderr."""
    env = {"CATALOG_DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.db'}"}
    args = ["ingest", "--no-mlflow", "--lineage", str(path)]
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    assert result.exit_code == 2, result.output
    return result.stderr


def check_both_clis(path: Path, tmp_path: Path, message: str) -> None:
    """Both command lines exit 2 and print ``message`` (the validation error) as is."""
    assert check_module_cli(path).strip() == message
    assert check_ingest_cli(path, tmp_path).strip() == f"error: {message}".replace(str(path), str(path.resolve()))


# -- 1. YAML scalars that cannot be constructed ------------------------------------------------


def test_unconstructible_timestamp_tag_is_located(tmp_path: Path) -> None:
    path, message = rejected(tmp_path, model("!!timestamp foo"))
    assert message == (
        f"{path}:4: models.m.purpose: expected a date or date-time such as 2024-05-01 (tag !!timestamp), got 'foo'"
    )
    check_both_clis(path, tmp_path, message)


def test_unconstructible_bool_tag_is_located(tmp_path: Path) -> None:
    path, message = rejected(tmp_path, model("!!bool maybe"))
    assert message == f"{path}:4: models.m.purpose: expected true or false (tag !!bool), got 'maybe'"
    check_both_clis(path, tmp_path, message)


# -- 2. rejected before, but without file or line ----------------------------------------------


def test_impossible_date_is_located(tmp_path: Path) -> None:
    path, message = rejected(tmp_path, deployment("created: 2024-02-30"))
    assert message == (
        f"{path}:6: deployments.d.created: expected a valid date or date-time, got '2024-02-30' "
        "(day is out of range for month)"
    )
    check_both_clis(path, tmp_path, message)


def test_impossible_time_is_located(tmp_path: Path) -> None:
    path, message = rejected(tmp_path, deployment("created: 2024-01-01 25:00:00"))
    assert message == (
        f"{path}:6: deployments.d.created: expected a valid date or date-time, got '2024-01-01 25:00:00' "
        "(hour must be in 0..23)"
    )


@pytest.mark.parametrize(
    ("purpose", "expected"),
    [
        ("!!int abc", "expected an integer (tag !!int), got 'abc'"),
        ("!!float x", "expected a number (tag !!float), got 'x'"),
    ],
)
def test_bad_tagged_number_is_located(tmp_path: Path, purpose: str, expected: str) -> None:
    path, message = rejected(tmp_path, model(purpose))
    assert message == f"{path}:4: models.m.purpose: {expected}"
    check_both_clis(path, tmp_path, message)


def test_integer_over_the_digit_limit_is_located(tmp_path: Path) -> None:
    digits = DIGIT_LIMIT + 700
    path, message = rejected(tmp_path, model("9" * digits))
    assert message == (
        f"{path}:4: models.m.purpose: expected an integer of at most {DIGIT_LIMIT} digits, got one of {digits} digits"
    )
    check_both_clis(path, tmp_path, message)


def test_hex_integer_over_the_digit_limit_is_located(tmp_path: Path) -> None:
    """Hex text converts without the limit, but the number could not be printed in any message."""
    path, message = rejected(tmp_path, deployment("cpu_millicores: 0x" + "f" * DIGIT_LIMIT))
    assert message == (
        f"{path}:6: deployments.d.cpu_millicores: expected an integer of at most {DIGIT_LIMIT} digits, "
        "got a longer one"
    )


def test_lone_surrogate_in_a_key_is_located(tmp_path: Path) -> None:
    path, message = rejected(tmp_path, 'version: 1\nmodels:\n  "\\ud800": {}\n')
    assert message == f"{path}:3: models['\\ud800']: the key is not valid Unicode text: lone surrogate U+D800"
    check_both_clis(path, tmp_path, message)


# -- 3. Atlas attribute ranges are checked at validation ---------------------------------------


def test_cpu_millicores_beyond_an_atlas_int_is_rejected_at_validation(tmp_path: Path) -> None:
    path, message = rejected(tmp_path, deployment("cpu_millicores: 10000000000000000000000000"))
    assert message == (
        f"{path}:6: deployments.d.cpu_millicores: expected an integer in 0..{INT_MAX} "
        "(cpuMillicores is an Atlas int), got an integer 10000000000000000000000000"
    )
    check_both_clis(path, tmp_path, message)


def test_cpu_millicores_range_ends_where_an_atlas_int_ends(tmp_path: Path) -> None:
    doc = parse_lineage_text(deployment(f"cpu_millicores: {INT_MAX}"))
    assert doc.deployments["d"].cpu_millicores == INT_MAX
    _, message = rejected(tmp_path, deployment(f"cpu_millicores: {INT_MAX + 1}"))
    expected = f"expected an integer in 0..{INT_MAX} (cpuMillicores is an Atlas int), got an integer {INT_MAX + 1}"
    assert message.endswith(f"deployments.d.cpu_millicores: {expected}")


def test_model_version_beyond_an_atlas_int_is_rejected(tmp_path: Path) -> None:
    text = deployment("cpu_millicores: 1").replace("models:/m/1", "models:/m/" + "9" * 20)
    path, message = rejected(tmp_path, text)
    assert message == (
        f"{path}:4: deployments.d.model: expected a model version of at most {INT_MAX} "
        f"(ml_model_version.version is an Atlas int), got {'9' * 20}"
    )


def test_deployment_status_outside_the_atlas_enum_is_rejected_at_validation(tmp_path: Path) -> None:
    path, message = rejected(tmp_path, deployment("status: stoped"))
    assert message == (
        f"{path}:6: deployments.d.status: expected one of 'unknown', 'deploying', 'deployed', 'stopping', "
        "'stopped' (ml_model_deployment_status, an Atlas enum), got a string 'stoped'; did you mean 'stopped'?"
    )
    check_both_clis(path, tmp_path, message)


def test_deployment_statuses_are_the_atlas_enum() -> None:
    enums = {e["name"]: e for e in TypeRegistry.default().to_typesdef()["enumDefs"]}
    values = [element["value"] for element in enums["ml_model_deployment_status"]["elementDefs"]]
    assert list(DEPLOYMENT_STATUSES) == values
    assert parse_lineage_text(deployment("status: stopped")).deployments["d"].status == "stopped"


# -- 4. lone surrogates in values --------------------------------------------------------------


def test_lone_surrogate_in_a_value_is_rejected(tmp_path: Path) -> None:
    path, message = rejected(tmp_path, model('"bad \\ud800 text"'))
    assert message == f"{path}:4: models.m.purpose: not valid Unicode text: lone surrogate U+D800"
    check_both_clis(path, tmp_path, message)


def test_lone_low_surrogate_in_a_list_item_is_rejected(tmp_path: Path) -> None:
    text = 'version: 1\ndatasets:\n  a.b@cm:\n    classifications: [PII, "X\\udc80"]\n'
    path, message = rejected(tmp_path, text)
    assert message == f"{path}:4: datasets['a.b@cm'].classifications[1]: not valid Unicode text: lone surrogate U+DC80"


def test_surrogate_pair_escapes_are_the_character_they_encode() -> None:
    """JSON written with ensure_ascii spells U+1F600 as \\ud83d\\ude00; that is valid text."""
    doc = parse_lineage_text('{"version": 1, "models": {"m\\ud83d\\ude00": {"purpose": "wine \\ud83c\\udf77"}}}')
    assert doc.models["m\U0001f600"].purpose == "wine \U0001f377"


def test_type_checker_rejects_a_string_attribute_with_a_lone_surrogate() -> None:
    entity = Entity("ml_registered_model", "m@mlflow", {"name": "m", "purpose": "bad \ud800 text"})
    with pytest.raises(EntityValidationError) as info:
        TypeRegistry.default().validate(entity)
    assert str(info.value) == (
        "ml_registered_model 'm@mlflow': attribute 'purpose' expects string, got str 'bad \\ud800 text' "
        "(not valid Unicode text: lone surrogate U+D800)"
    )


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"tags": {"k": "v\udfff"}}, "attribute 'tags'['k'] expects string, got str 'v\\udfff'"),
        ({"tags": {"k\ud800": "v"}}, "attribute 'tags' key 'k\\ud800' expects string, got str 'k\\ud800'"),
    ],
)
def test_type_checker_rejects_lone_surrogates_in_map_keys_and_values(attributes: dict[str, Any], expected: str) -> None:
    entity = Entity("ml_registered_model", "m@mlflow", {"name": "m", **attributes})
    with pytest.raises(EntityValidationError, match="not valid Unicode text: lone surrogate U\\+D[8-F]") as info:
        TypeRegistry.default().validate(entity)
    assert expected in str(info.value)


def test_type_checker_rejects_a_lone_surrogate_in_a_string_array() -> None:
    entity = Entity("ml_model_version", "m/1@mlflow", {"name": "m", "version": 1, "flavors": ["ok", "x\ud800"]})
    with pytest.raises(EntityValidationError) as info:
        TypeRegistry.default().validate(entity)
    expected = ("attribute 'flavors'[1] expects string, got str 'x\\ud800' "
                "(not valid Unicode text: lone surrogate U+D800)")
    assert str(info.value) == f"ml_model_version 'm/1@mlflow': {expected}"


def test_type_checker_keeps_valid_non_ascii_text() -> None:
    entity = Entity("ml_registered_model", "m@mlflow", {"name": "m", "purpose": "vin rouge \U0001f377 é"})
    TypeRegistry.default().validate(entity)


# -- 5. version is the integer 1 ---------------------------------------------------------------


@pytest.mark.parametrize(("written", "described"), [("true", "a boolean True"), ("1.0", "a number 1.0")])
def test_version_must_be_the_integer_1(tmp_path: Path, written: str, described: str) -> None:
    path, message = rejected(tmp_path, f"version: {written}\n")
    assert message == f"{path}:1: version: expected the integer 1, got {described}"
    check_both_clis(path, tmp_path, message)


# -- 6. created fits an Atlas long -------------------------------------------------------------


def test_created_epoch_millis_beyond_an_atlas_long_is_located(tmp_path: Path) -> None:
    path, message = rejected(tmp_path, deployment("created: 99999999999999999999"))
    assert message == (
        f"{path}:6: deployments.d.created: expected epoch milliseconds in 0..{LONG_MAX} (an Atlas long), "
        "got an integer 99999999999999999999"
    )
    check_both_clis(path, tmp_path, message)


def test_created_at_the_end_of_an_atlas_long_is_kept() -> None:
    doc = parse_lineage_text(deployment(f"created: {LONG_MAX}"))
    assert doc.deployments["d"].created_millis() == LONG_MAX


@pytest.mark.parametrize(
    ("written", "described"),
    [
        ("1969-12-31", "a date 1969-12-31"),
        ("'1969-12-31T23:59:59+00:00'", "a string '1969-12-31T23:59:59+00:00'"),
    ],
)
def test_created_iso_date_before_the_epoch_is_located(tmp_path: Path, written: str, described: str) -> None:
    path, message = rejected(tmp_path, deployment(f"created: {written}"))
    assert message == (
        f"{path}:6: deployments.d.created: expected a date from 1970-01-01 on (epoch milliseconds 0..{LONG_MAX}), "
        f"got {described}"
    )


def test_created_iso_date_time_keeps_its_milliseconds() -> None:
    doc = parse_lineage_text(deployment("created: '2024-05-01T00:00:00.001+00:00'"))
    assert doc.deployments["d"].created_millis() == 1714521600001


# -- every malformed file: located, a LineageValidationError, exit 2, no traceback -------------

# (file text, line, key path, the reason the message must contain)
MALFORMED: dict[str, tuple[str, int, str, str]] = {
    "timestamp-tag": (model("!!timestamp foo"), 4, "models.m.purpose", "(tag !!timestamp), got 'foo'"),
    "bool-tag": (model("!!bool maybe"), 4, "models.m.purpose", "expected true or false (tag !!bool)"),
    "int-tag": (model("!!int abc"), 4, "models.m.purpose", "expected an integer (tag !!int), got 'abc'"),
    "int-tag-on-nothing": (model('!!int ""'), 4, "models.m.purpose", "expected an integer (tag !!int), got ''"),
    "timestamp-tag-on-nothing": (model('!!timestamp ""'), 4, "models.m.purpose", "(tag !!timestamp), got ''"),
    "float-tag": (model("!!float x"), 4, "models.m.purpose", "expected a number (tag !!float), got 'x'"),
    "binary-tag-bad-base64": (model("!!binary a"), 4, "models.m.purpose", "tag !!binary: failed to decode base64"),
    "binary-where-a-string-is-expected": (
        model("!!binary aGk="), 4, "models.m.purpose", "expected a string, got binary data",
    ),
    "str-tag-on-a-mapping": (model("!!str {a: 1}"), 4, "models.m.purpose", "tag !!str: expected a scalar node"),
    "set-where-a-mapping-is-expected": (
        "version: 1\ndatasets: !!set {a, b}\n", 2, "datasets", "expected a mapping, got a set",
    ),
    "omap-of-a-mapping": ("version: 1\nmodels: !!omap {m: {}}\n", 2, "models", "tag !!omap: expected a sequence"),
    "python-tag": (model("!!python/object/apply:os.system [ls]"), 4, "models.m.purpose", "is not allowed"),
    "custom-tag": (model("!secret x"), 4, "models.m.purpose", "tag '!secret' is not allowed"),
    "merge-of-a-scalar": (
        "version: 1\nmodels:\n  m:\n    <<: 1\n", 4, "models.m['<<']", "for merging, but found scalar",
    ),
    "duplicate-key": (model("a\n    purpose: b"), 5, "models.m.purpose", "duplicate key 'purpose' (lines 4 and 5)"),
    "impossible-date": (
        deployment("created: 2024-02-30"), 6, "deployments.d.created", "(day is out of range for month)",
    ),
    "impossible-date-key": (
        "version: 1\nmodels:\n  2024-02-30: {}\n", 3, "models['2024-02-30']", "expected a valid date",
    ),
    "date-where-a-string-is-expected": (
        model("2024-05-01"), 4, "models.m.purpose", "expected a string, got a date 2024-05-01",
    ),
    "huge-int": (model("9" * (DIGIT_LIMIT + 1)), 4, "models.m.purpose", f"got one of {DIGIT_LIMIT + 1} digits"),
    "huge-hex-int": (
        deployment("cpu_millicores: 0x" + "f" * 4000), 6, "deployments.d.cpu_millicores", "got a longer one",
    ),
    "cpu-over-atlas-int": (deployment("cpu_millicores: 2147483648"), 6, "deployments.d.cpu_millicores", "Atlas int"),
    "cpu-negative": (deployment("cpu_millicores: -1"), 6, "deployments.d.cpu_millicores", "expected a number >= 0"),
    "cpu-nan": (
        deployment("cpu_millicores: .nan"), 6, "deployments.d.cpu_millicores", "expected an integer, got a number nan",
    ),
    "cpu-boolean": (deployment("cpu_millicores: yes"), 6, "deployments.d.cpu_millicores", "got a boolean True"),
    "created-infinite": (
        deployment("created: .inf"), 6, "deployments.d.created", "expected an integer, got a number inf",
    ),
    "created-over-atlas-long": (deployment("created: 99999999999999999999"), 6, "deployments.d.created", "Atlas long"),
    "model-version-over-atlas-int": (
        deployment("status: deployed").replace("models:/m/1", "models:/m/2147483648"),
        4,
        "deployments.d.model",
        "Atlas int",
    ),
    "status-outside-the-atlas-enum": (deployment("status: retired"), 6, "deployments.d.status", "an Atlas enum"),
    "version-true": ("version: true\n", 1, "version", "expected the integer 1, got a boolean True"),
    "version-float": ("version: 1.0\n", 1, "version", "expected the integer 1, got a number 1.0"),
    "surrogate-in-a-key": ('version: 1\nmodels:\n  "\\ud800": {}\n', 3, "models['\\ud800']", "lone surrogate U+D800"),
    "surrogate-in-a-value": (model('"bad \\ud800 text"'), 4, "models.m.purpose", "lone surrogate U+D800"),
    "surrogate-in-a-tag-value": (
        'version: 1\nmodels:\n  m:\n    tags: {k: "\\udbff"}\n', 4, "models.m.tags.k", "lone surrogate U+DBFF"
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_file_is_located_and_exits_2(tmp_path: Path, case: str) -> None:
    text, line, key_path, reason = MALFORMED[case]
    path, message = rejected(tmp_path, text)
    first = message.splitlines()[0]
    assert first.startswith(f"{path}:{line}: {key_path}: "), first
    assert reason in first, first
    stderr = check_module_cli(path)
    assert stderr.startswith(f"{path}:{line}: {key_path}: "), stderr
