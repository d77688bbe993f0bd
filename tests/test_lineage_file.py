"""Tests of catalog.lineage_file: lineage.yml -> validated document -> declared entities.

Why: lineage.yml is written by hand in many repositories; these tests pin that every
form the catalog promises to read is read, and that every mistake is reported with
file, line and key path instead of a trace or, worse, silence.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog.errors import LineageFileError
from catalog.lineage_file import (
    LineageDocument,
    LineageYamlLoader,
    declared_batch,
    lineage_schema,
    load_lineage_file,
    parse_lineage_text,
)
from catalog.lineage_file.__main__ import main
from catalog.atlas.json import incoming_digest
from catalog.model import Classification, EntityRef
from tests.conftest import reference

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "lineage"
DEMO = ROOT / "lineage.yml"
SCHEMA_FILE = ROOT / "docs" / "lineage.schema.json"
SHIPPED_CLASSIFICATIONS = {"PII", "SENSITIVE", "CONFIDENTIAL", "RESTRICTED"}

MINIMAL = """\
version: 1
cluster: cm
datasets:
  default.wineds_ext@cm:
    classifications: [PII]
  default.wineds_ext_nolabel@cm: {}
  wine_incoming:
    type: fs_path
    path: data/incoming/
models:
  wine-quality:
    owner: ml-team@example.com
    training:
      datasets: [default.wineds_ext@cm, default.wineds_ext_nolabel@cm]
deployments:
  wine-quality-stream:
    model: models:/wine-quality@champion
    mode: streaming
    input: wine_incoming
"""


def write(tmp_path: Path, text: str, name: str = "lineage.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str, **kwargs: Any) -> tuple[Path, str]:
    """Write ``text``, load it, return (path, the error message); fail if it loads."""
    path = write(tmp_path, text)
    with pytest.raises(LineageFileError) as info:
        load_lineage_file(path, **kwargs)
    return path, str(info.value)


def cml_reference() -> Path:
    return reference("wine/cml-lineage.yml")


def same_content(a: LineageDocument, b: LineageDocument) -> bool:
    return a.model_dump(exclude={"source", "policy_source"}) == b.model_dump(exclude={"source", "policy_source"})


# -- the CML form -----------------------------------------------------------------------


def test_cml_reference_file_loads_unchanged() -> None:
    doc = load_lineage_file(cml_reference())
    assert doc.form == "cml"
    assert doc.cluster == "cm"
    assert list(doc.datasets) == ["default.wineds_ext_nolabel@cm", "default.wineds_ext@cm"]
    assert all(spec.type == "hive_table" for spec in doc.datasets.values())
    model = doc.models["Predict w/ Monitoring & Lineage"]
    assert model.training.datasets == ["default.wineds_ext_nolabel@cm", "default.wineds_ext@cm"]
    assert doc.deployments == {}
    assert doc.source == str(cml_reference())


def test_cml_json_syntax_and_yaml_syntax_give_the_same_document() -> None:
    from_json = load_lineage_file(cml_reference())
    from_yaml = load_lineage_file(FIXTURES / "cml-yaml-syntax.yml")
    assert same_content(from_json, from_yaml)


def test_cml_metadata_is_kept_and_both_syntaxes_agree() -> None:
    from_json = load_lineage_file(FIXTURES / "cml-metadata-json.yml")
    from_yaml = load_lineage_file(FIXTURES / "cml-metadata-yaml.yml")
    assert same_content(from_json, from_yaml)
    assert from_json.models["churn-model"].metadata == {
        "query": "select * from sales.customers",
        "training_file": "fit.py",
        "rows": 1200,
    }
    assert from_json.cluster == "prod"  # every table says @prod
    assert list(from_json.datasets) == ["sales.customers@prod", "sales.orders@prod"]


def test_cml_cluster_falls_back_to_default_when_suffixes_disagree() -> None:
    doc = parse_lineage_text('{"m": {"hive_table_qualified_names": ["a.t@east", "a.u@west"]}}')
    assert doc.cluster == "cm"
    assert doc.dataset_qn("a.t@east") == "a.t@east"


def test_cml_entry_with_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    path, message = load_error(
        tmp_path,
        """\
        churn:
          hive_table_qualified_names: [sales.orders@prod]
          metdata: {query: x}
        """,
    )
    assert f"{path}:3: churn.metdata: unknown key 'metdata'; did you mean 'metadata'?" in message


# -- the full form ----------------------------------------------------------------------


def test_demo_lineage_file_parses() -> None:
    doc = load_lineage_file(DEMO, known_classifications=SHIPPED_CLASSIFICATIONS)
    assert doc.form == "full"
    assert doc.cluster == "cm"
    assert doc.datasets["default.wineds_ext@cm"].classifications == ["PII"]
    assert doc.dataset_qn("wine_incoming") == "data/incoming/@cm"
    model = doc.models["wine-quality"]
    assert model.purpose == "predicts the quality of wine using wine attributes"
    assert model.owner == "ml-team@example.com"
    assert model.training.datasets == ["default.wineds_ext@cm"]
    assert model.policy.metrics == {"rmse": "<= 0.8"}
    stream = doc.deployments["wine-quality-stream"]
    assert (stream.mode, stream.target, stream.trigger) == ("streaming", "prod", "5 minutes")
    assert stream.input == "wine_incoming"
    assert stream.output is not None and (stream.output.path, stream.output.format) == ("data/predictions/", "delta")
    assert stream.checkpoint == "data/_checkpoints/wine-quality-stream/"
    assert stream.expectations == "expectations/wine_input.json"
    batch = doc.deployments["wine-quality-batch"]
    assert (batch.mode, batch.target) == ("batch", "prod")
    assert (batch.input, batch.model) == ("default.wineds_ext_nolabel@cm", "models:/wine-quality@champion")
    assert batch.output is not None and batch.output.path == "data/predictions_batch/"


def test_full_form_in_json_syntax_equals_yaml_syntax() -> None:
    as_yaml = parse_lineage_text(MINIMAL)
    as_json = parse_lineage_text(json.dumps(yaml.safe_load(MINIMAL)))
    assert same_content(as_yaml, as_json)


def test_defaults_apply_and_bare_keys_mean_empty() -> None:
    doc = parse_lineage_text(
        textwrap.dedent(
            """\
            datasets:
              default.t:
            models:
              m:
            deployments:
              d: {model: models:/m/3, mode: online}
            """
        )
    )
    assert doc.version == 1 and doc.cluster == "cm"
    assert doc.datasets["default.t"].type == "hive_table"
    assert doc.dataset_qn("default.t") == "default.t@cm"
    assert doc.models["m"].training.datasets == []
    deployment = doc.deployments["d"]
    assert (deployment.target, deployment.status) == ("prod", "deployed")
    assert (deployment.cpu_millicores, deployment.created) == (0, None)


def test_deployment_model_ref_helpers() -> None:
    doc = parse_lineage_text(
        "deployments:\n"
        "  a: {model: models:/wine-quality@champion, mode: batch}\n"
        "  b: {model: 'models:/Predict w/ Monitoring & Lineage/12', mode: online}\n"
    )
    a, b = doc.deployments["a"], doc.deployments["b"]
    assert (a.model_name, a.model_selector) == ("wine-quality", "champion")
    assert (a.model_alias, a.model_version) == ("champion", None)
    assert (b.model_name, b.model_selector) == ("Predict w/ Monitoring & Lineage", 12)
    assert (b.model_alias, b.model_version) == (None, 12)


def test_created_accepts_epoch_millis_iso_date_and_yaml_date() -> None:
    doc = parse_lineage_text(
        "deployments:\n"
        "  a: {model: models:/m/1, mode: batch, created: 1714521600000}\n"
        "  b: {model: models:/m/1, mode: batch, created: 2024-05-01}\n"
        "  c: {model: models:/m/1, mode: batch, created: '2024-05-01T00:00:00+00:00'}\n"
    )
    assert {d.created for d in doc.deployments.values()} == {1714521600000}
    assert doc.deployments["b"].created_millis() == 1714521600000


def test_output_location_is_the_path_or_the_table() -> None:
    doc = parse_lineage_text(
        "deployments:\n"
        "  a: {model: models:/m/1, mode: batch, output: {path: data/out/}}\n"
        "  b: {model: models:/m/1, mode: batch, output: {table: db.predictions}}\n"
    )
    locations = [d.output.location for d in doc.deployments.values() if d.output is not None]
    assert locations == ["data/out/", "db.predictions"]


def test_output_needs_exactly_one_of_path_and_table(tmp_path: Path) -> None:
    path, message = load_error(
        tmp_path, "deployments:\n  d:\n    model: models:/m/1\n    mode: batch\n    output: {format: delta}\n"
    )
    assert message == f"{path}:5: deployments.d.output: expected exactly one of 'path' or 'table'"


# -- errors: syntax and structure ---------------------------------------------------------


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path, message = load_error(
        tmp_path,
        """\
        version: 1
        models:
          wine-quality:
            training:
              datasets: [default.wineds_ext@cm, default.wineds_ext_nolabel@cm
        deployments: {}
        """,
    )
    assert message.startswith(f"{path}:6: YAML syntax error: ")
    assert "flow sequence started at line 5" in message


def test_wrong_type_names_path_and_expectation(tmp_path: Path) -> None:
    path, message = load_error(
        tmp_path,
        """\
        datasets:
          default.t@cm: {}
        models:
          wine-quality:
            training:
              datasets: default.t@cm
        """,
    )
    assert message == f"{path}:6: models.wine-quality.training.datasets: expected a list, got a string 'default.t@cm'"


def test_unknown_key_is_an_error_with_did_you_mean(tmp_path: Path) -> None:
    path, message = load_error(
        tmp_path,
        """\
        models:
          wine-quality:
            purpose: predicts wine quality
            traning:
              datasets: []
        """,
    )
    assert message == f"{path}:4: models.wine-quality.traning: unknown key 'traning'; did you mean 'training'?"


def test_unknown_top_level_key_suggests_a_section(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "version: 1\ndataset:\n  default.t@cm: {}\n")
    assert message == f"{path}:2: dataset: unknown key 'dataset'; did you mean 'datasets'?"


def test_unknown_key_without_close_match_lists_the_allowed_keys(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "deployments:\n  d:\n    model: models:/m/1\n    mode: batch\n    zzz: 1\n")
    assert f"{path}:5: deployments.d.zzz: unknown key 'zzz'; expected one of: model, mode, target" in message


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    path, message = load_error(
        tmp_path,
        """\
        models:
          wine-quality:
            owner: a@example.com
            purpose: x
            owner: b@example.com
        """,
    )
    assert message == f"{path}:5: models.wine-quality.owner: duplicate key 'owner' (lines 3 and 5)"


def test_unsupported_version_is_an_error(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "version: 2\n")
    assert message == f"{path}:1: version: expected 1, got an integer 2"


def test_missing_required_key_names_its_parent_line(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "deployments:\n  d:\n    mode: batch\n")
    assert message == f"{path}:2: deployments.d.model: required key 'model' is missing"


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "# nothing yet\n")
    assert message.startswith(f"{path}:1: the file is empty")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "- default.t@cm\n")
    assert message == f"{path}:1: expected a mapping at the top level, got a list"


def test_missing_file_is_a_lineage_file_error(tmp_path: Path) -> None:
    with pytest.raises(LineageFileError, match=r"nope\.yml: cannot read the file"):
        load_lineage_file(tmp_path / "nope.yml")


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "lineage.yml"
    path.write_bytes(b"version: 1\ncluster: \xff\n")
    with pytest.raises(LineageFileError) as info:
        load_lineage_file(path)
    assert str(info.value) == f"{path}:2: not UTF-8 text: byte 0xff at offset 20"


# -- errors: cross-checks -----------------------------------------------------------------


def test_undeclared_training_dataset_is_named_with_did_you_mean(tmp_path: Path) -> None:
    path, message = load_error(
        tmp_path,
        """\
        datasets:
          default.wineds_ext@cm: {}
          default.wineds_ext_nolabel@cm: {}
        models:
          wine-quality:
            training:
              datasets:
                - default.wineds_ext@cm
                - default.wineds_extt@cm
        """,
    )
    assert message == (
        f"{path}:9: models.wine-quality.training.datasets[1]: training dataset 'default.wineds_extt@cm' "
        "is not declared under 'datasets'; did you mean 'default.wineds_ext@cm'?"
    )


def test_undeclared_deployment_input_is_named(tmp_path: Path) -> None:
    path, message = load_error(
        tmp_path,
        """\
        datasets:
          wine_incoming: {type: fs_path, path: data/incoming/}
        deployments:
          s:
            model: models:/wine-quality@champion
            mode: streaming
            input: wine_incomming
        """,
    )
    assert message == (
        f"{path}:7: deployments.s.input: input dataset 'wine_incomming' is not declared under 'datasets'; "
        "did you mean 'wine_incoming'?"
    )


def test_model_listed_as_its_own_training_input_is_an_error(tmp_path: Path) -> None:
    path, message = load_error(
        tmp_path,
        """\
        datasets:
          wine-quality: {type: fs_path, path: models/wine-quality/}
        models:
          wine-quality:
            training:
              datasets: [wine-quality]
        """,
    )
    assert message == (
        f"{path}:6: models.wine-quality.training.datasets[0]: model 'wine-quality' lists itself as a training input"
    )


def test_bad_model_ref_says_what_is_expected(tmp_path: Path) -> None:
    path, message = load_error(
        tmp_path, "deployments:\n  d:\n    model: models:/wine-quality/Production\n    mode: batch\n"
    )
    assert message == (
        f"{path}:3: deployments.d.model: expected 'models:/<name>/<version>' or 'models:/<name>@<alias>', "
        "got 'models:/wine-quality/Production'"
    )


def test_bad_mode_lists_the_modes_and_suggests_one(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "deployments:\n  d:\n    model: models:/m@champion\n    mode: stream\n")
    assert message == (
        f"{path}:4: deployments.d.mode: expected one of 'batch', 'streaming', 'online', got a string 'stream'; "
        "did you mean 'streaming'?"
    )


def test_unknown_classification_is_an_error_when_known_names_are_given(tmp_path: Path) -> None:
    path, message = load_error(
        tmp_path,
        "datasets:\n  default.t@cm:\n    classifications: [PII, PIII]\n",
        known_classifications=SHIPPED_CLASSIFICATIONS,
    )
    assert message == (
        f"{path}:3: datasets['default.t@cm'].classifications[1]: unknown classification 'PIII'; "
        "known: CONFIDENTIAL, PII, RESTRICTED, SENSITIVE"
    )


def test_classification_names_are_not_checked_without_a_known_set() -> None:
    doc = parse_lineage_text("datasets:\n  default.t@cm:\n    classifications: [CUSTOM_TAG]\n")
    assert doc.datasets["default.t@cm"].classifications == ["CUSTOM_TAG"]


def test_fs_path_needs_a_path(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "datasets:\n  incoming:\n    type: fs_path\n")
    assert message == f"{path}:2: datasets.incoming.path: an fs_path dataset needs 'path'"


def test_hive_table_key_must_be_a_table_name(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "datasets:\n  'sales orders':\n    description: x\n")
    assert message.startswith(f"{path}:2: datasets['sales orders']: expected a Hive table name db.table[@cluster]")


def test_two_keys_naming_the_same_table_are_an_error(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "datasets:\n  default.T@cm: {}\n  default.t: {}\n")
    assert message == (
        f"{path}:3: datasets['default.t']: names the same hive_table 'default.t@cm' as dataset 'default.T@cm'"
    )


def test_policy_threshold_must_be_a_comparison(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "models:\n  m:\n    policy:\n      metrics: {rmse: 0.8}\n")
    assert message == (
        f"{path}:4: models.m.policy.metrics.rmse: expected a comparison such as '<= 0.8', got the bare number 0.8"
    )


def test_all_problems_are_reported_at_once_in_line_order(tmp_path: Path) -> None:
    path, message = load_error(
        tmp_path,
        """\
        datasets:
          default.t@cm:
            type: hive-table
        models:
          m:
            owner: [a]
            training: {datasets: [default.u@cm]}
        deployments:
          d: {model: models:/m, mode: batch}
        """,
    )
    lines = message.splitlines()
    assert lines[0] == f"{path}: 4 problems"
    assert [line.removeprefix(f"{path}:").split(":")[0] for line in lines[1:]] == ["3", "6", "7", "9"]
    assert "datasets['default.t@cm'].type: expected one of 'hive_table', 'fs_path'" in lines[1]
    assert "models.m.owner: expected a string, got a list" in lines[2]
    assert "models.m.training.datasets[0]: training dataset 'default.u@cm' is not declared" in lines[3]
    assert "deployments.d.model: expected 'models:/<name>/<version>'" in lines[4]


def test_errors_carry_structured_issues(tmp_path: Path) -> None:
    path = write(tmp_path, "models:\n  m:\n    owner: 1\n")
    with pytest.raises(LineageFileError) as info:
        load_lineage_file(path)
    (issue,) = info.value.issues  # type: ignore[attr-defined]
    assert (issue.file, issue.line, issue.path) == (str(path), 3, "models.m.owner")


# -- loader limits and safety ----------------------------------------------------------------


def test_oversized_file_is_rejected_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "lineage.yml"
    path.write_text("models: [\n" + "x" * 2000)  # also malformed: the size check must come first
    with pytest.raises(LineageFileError) as info:
        load_lineage_file(path, max_bytes=1000)
    assert str(info.value) == (
        f"{path}: the file is 2010 bytes, over the limit of 1000 bytes "
        "(CATALOG_MAX_LINEAGE_FILE_BYTES); it was not parsed"
    )


def test_default_size_limit_is_one_mebibyte(tmp_path: Path) -> None:
    path = tmp_path / "big.yml"
    path.write_bytes(b"#" * (1_048_576 + 1))
    with pytest.raises(LineageFileError, match="over the limit of 1048576 bytes"):
        load_lineage_file(path)


def test_parse_lineage_text_checks_the_size_too() -> None:
    with pytest.raises(LineageFileError, match=r"^x\.yml: the file is 101 bytes, over the limit of 100 bytes"):
        parse_lineage_text("#" * 101, filename="x.yml", max_bytes=100)


def test_too_deep_nesting_is_rejected(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "models:\n  m:\n    metadata:\n      x: " + "[" * 40 + "]" * 40 + "\n")
    assert message.startswith(f"{path}:4: models.m.metadata.x[0]")
    assert "nesting is deeper than 32 levels" in message


def test_billion_laughs_fails_fast_with_a_clear_message() -> None:
    started = time.perf_counter()
    with pytest.raises(LineageFileError) as info:
        load_lineage_file(FIXTURES / "billion-laughs.yml")
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5
    assert f"{FIXTURES / 'billion-laughs.yml'}:7: f: the document expands to more than 100000 nodes" in str(info.value)
    assert "billion laughs" in str(info.value)


def test_alias_references_are_limited(tmp_path: Path) -> None:
    aliases = ", ".join(["*t"] * 101)
    path, message = load_error(tmp_path, f"models:\n  m:\n    metadata:\n      t: &t 1\n      many: [{aliases}]\n")
    assert message.startswith(f"{path}:5: models.m.metadata.many[100]: more than 100 alias references (*t)")


def test_recursive_alias_is_rejected(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "models:\n  m:\n    metadata: &loop\n      self: *loop\n")
    assert message == f"{path}:4: models.m.metadata.self: alias *loop refers to a node that contains it"


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        (
            "models:\n  m:\n    metadata: !!python/object/apply:os.system ['echo pwned']\n",
            "python/object/apply:os.system",
        ),
        ("models:\n  m:\n    metadata: !!python/object:builtins.dict {}\n", "python/object:builtins.dict"),
        ("models:\n  m:\n    metadata: !!python/name:os.system ''\n", "python/name:os.system"),
    ],
)
def test_python_tags_are_rejected(tmp_path: Path, text: str, tag: str) -> None:
    path, message = load_error(tmp_path, text)
    assert message == (
        f"{path}:3: models.m.metadata: tag 'tag:yaml.org,2002:{tag}' is not allowed: lineage.yml is plain YAML "
        "(yaml.safe_load semantics, no python or custom tags)"
    )


def test_loader_works_with_yaml_load_and_records_key_lines() -> None:
    loader = LineageYamlLoader(MINIMAL)
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    assert data == yaml.safe_load(MINIMAL)
    assert loader.key_lines[("models", "wine-quality", "training", "datasets", 1)] == 14
    assert loader.key_lines[("deployments", "wine-quality-stream", "mode")] == 18
    with pytest.raises(yaml.YAMLError, match="duplicate key 'a'"):
        yaml.load("a: 1\na: 2\n", Loader=LineageYamlLoader)  # noqa: S506 - our loader is a SafeLoader


def test_merge_keys_work_like_safe_load() -> None:
    text = (
        "deployments:\n"
        "  base: &base {model: models:/m@champion, mode: batch}\n"
        "  other:\n"
        "    <<: *base\n"
        "    mode: online\n"
    )
    doc = parse_lineage_text(text)
    assert doc.deployments["other"].mode == "online"
    assert doc.deployments["other"].model == "models:/m@champion"


# -- declared entities --------------------------------------------------------------------------


def test_declared_batch_entities_and_lineage() -> None:
    doc = parse_lineage_text(MINIMAL, filename="repo/lineage.yml")
    batch = declared_batch(doc, instance="mlflow")
    assert batch.source == "lineage.yml:repo/lineage.yml"
    by_qn = {e.qualified_name: e for e in batch.entities}
    assert [(e.type_name, e.qualified_name) for e in batch.entities] == [
        ("hive_table", "default.wineds_ext@cm"),
        ("hive_table", "default.wineds_ext_nolabel@cm"),
        ("fs_path", "data/incoming/@cm"),
        ("ml_registered_model", "wine-quality@mlflow"),
        ("ml_model_train_build_process", "declared-training:wine-quality@mlflow"),
    ]
    assert by_qn["default.wineds_ext@cm"].attributes == {"name": "wineds_ext"}
    assert by_qn["data/incoming/@cm"].attributes == {"name": "wine_incoming", "path": "data/incoming/"}
    assert by_qn["wine-quality@mlflow"].attributes == {"name": "wine-quality", "owner": "ml-team@example.com"}
    process = by_qn["declared-training:wine-quality@mlflow"]
    assert process.attributes["name"] == "declared training of wine-quality"
    assert process.attributes["userName"] == "ml-team@example.com"
    assert process.inputs == [
        EntityRef("hive_table", "default.wineds_ext@cm"),
        EntityRef("hive_table", "default.wineds_ext_nolabel@cm"),
    ]
    assert process.outputs == [EntityRef("ml_registered_model", "wine-quality@mlflow")]
    assert batch.findings == []


def test_declared_batch_carries_classifications_and_descriptions() -> None:
    doc = load_lineage_file(DEMO)
    entities = {e.qualified_name: e for e in declared_batch(doc).entities}
    table = entities["default.wineds_ext@cm"]
    assert table.classifications == [Classification("PII")]
    assert table.classifications[0].propagate is True
    assert table.attributes["description"] == "wine attributes with the quality label, for training"
    assert entities["default.wineds_ext_nolabel@cm"].classifications == []
    model = entities["wine-quality@mlflow"]
    assert model.attributes == {
        "name": "wine-quality",
        "purpose": "predicts the quality of wine using wine attributes",
        "owner": "ml-team@example.com",
        "tags": {"team": "ml"},
    }
    assert not any(e.type_name.startswith("ml_model_deploy") for e in entities.values())


def test_declared_batch_has_no_training_process_without_training_datasets() -> None:
    doc = parse_lineage_text("models:\n  m: {purpose: x}\n")
    assert [e.type_name for e in declared_batch(doc).entities] == ["ml_registered_model"]
    assert declared_batch(doc).entities[0].attributes == {"name": "m", "purpose": "x"}


def test_declared_batch_uses_lineage_yml_as_user_without_owner() -> None:
    doc = load_lineage_file(cml_reference())
    entities = declared_batch(doc, instance="prod-mlflow").entities
    process = next(e for e in entities if e.type_name == "ml_model_train_build_process")
    assert process.qualified_name == "declared-training:Predict w/ Monitoring & Lineage@prod-mlflow"
    assert process.attributes["userName"] == "lineage.yml"


def test_declared_batch_is_deterministic() -> None:
    first = declared_batch(load_lineage_file(DEMO))
    second = declared_batch(load_lineage_file(DEMO))
    assert [incoming_digest(e) for e in first.entities] == [incoming_digest(e) for e in second.entities]
    assert [e.guid for e in first.entities] == [e.guid for e in second.entities]


# -- JSON Schema --------------------------------------------------------------------------------


def test_schema_file_matches_the_models() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    regenerate = "python -m catalog.lineage_file --schema > docs/lineage.schema.json"
    assert committed == lineage_schema(), f"docs/lineage.schema.json is stale; regenerate: {regenerate}"


def test_schema_is_draft_2020_12_with_both_forms() -> None:
    schema = lineage_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["anyOf"] == [{"$ref": "#/$defs/FullLineageFile"}, {"$ref": "#/$defs/CmlLineageFile"}]
    full = schema["$defs"]["FullLineageFile"]
    assert list(full["properties"]) == ["version", "cluster", "datasets", "models", "deployments", "policy"]
    for name, definition in schema["$defs"].items():
        if name != "CmlLineageFile":
            assert definition["additionalProperties"] is False, name


def test_main_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--schema"]) == 0
    assert capsys.readouterr().out == SCHEMA_FILE.read_text(encoding="utf-8")


def test_main_validates_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = write(tmp_path, "models:\n  m:\n    owner: 1\n")
    assert main([str(DEMO), str(bad)]) == 2
    captured = capsys.readouterr()
    assert f"{DEMO}: ok (full form: 3 datasets, 1 models, 2 deployments)" in captured.out
    assert f"{bad}:3: models.m.owner: expected a string, got an integer 1" in captured.err


def _validates(value: Any) -> bool:
    """Validate with a real JSON Schema implementation, as an editor would."""
    from jsonschema import Draft202012Validator

    schema = lineage_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema).is_valid(value)


def test_schema_accepts_the_demo_file_and_the_cml_file() -> None:
    assert _validates(yaml.safe_load(DEMO.read_text(encoding="utf-8")))
    assert _validates(json.loads(cml_reference().read_text(encoding="utf-8")))


def test_schema_rejects_unknown_keys_and_bad_refs() -> None:
    assert not _validates({"datasets": {"t": {"clasifications": []}}})
    assert not _validates({"deployments": {"d": {"model": "models:/m/Production", "mode": "batch"}}})
    assert not _validates({"m": {"hive_table_qualified_names": "a.b@cm"}})
