"""Tests of the Atlas type system: packaged typedefs, loading rules, queries and entity validation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import catalog.types
from catalog.errors import EntityValidationError, TypeDefError, UnknownTypeError
from catalog.model import Classification, Entity, EntityRef
from catalog.types import TypeRegistry
from catalog.types.registry import TYPEDEFS_DIR
from tests.conftest import reference

ATLAS_MODEL_ORDER = [
    "0000-Area0/0010-base_model.json",
    "0000-Area0/0011-glossary_model.json",
    "1000-Hadoop/1020-fs_model.json",
    "1000-Hadoop/1030-hive_model.json",
    "1000-Hadoop/1100-spark_model.json",
    "4000-MachineLearning/4010-ml_model.json",
]
SECTIONS = ["enumDefs", "structDefs", "classificationDefs", "entityDefs", "relationshipDefs", "businessMetadataDefs"]


@pytest.fixture
def registry() -> TypeRegistry:
    return TypeRegistry.default()


@pytest.fixture
def atlas_models() -> Path:
    return reference("atlas/models")


def atlas_registry(models: Path) -> TypeRegistry:
    registry = TypeRegistry()
    for name in ATLAS_MODEL_ORDER:
        registry.load_file(models / name)
    return registry


def attr(name: str, type_name: str, optional: bool = True) -> dict:
    return {"name": name, "typeName": type_name, "cardinality": "SINGLE", "isOptional": optional}


def model_version(**attributes) -> Entity:
    return Entity("ml_model_version", "wine/1@mlflow", {"name": "wine", "version": 1, **attributes})


def training_run(**attributes) -> Entity:
    return Entity("ml_training_run", "run:abc@mlflow", {"name": "run abc", "userName": "alice", **attributes})


def message(registry: TypeRegistry, entity: Entity) -> str:
    with pytest.raises(EntityValidationError) as info:
        registry.validate(entity)
    return str(info.value)


# -- the package ----------------------------------------------------------------------------

def test_package_exports_only_the_registry():
    assert catalog.types.__all__ == ["TypeRegistry"]
    assert all(hasattr(catalog.types, name) for name in catalog.types.__all__)


def test_importing_the_package_pulls_in_no_third_party_module():
    code = (
        "import json, sys, catalog.types; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] not in sys.stdlib_module_names)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[1]).stdout
    loaded = {m for m in json.loads(out) if not m.startswith(("catalog", "_"))}
    assert loaded == set()


# -- the packaged typedefs ------------------------------------------------------------------

def test_packaged_typedef_files_are_atlas_typesdefs_in_filename_order():
    files = sorted(p.name for p in TYPEDEFS_DIR.glob("*.json"))
    assert files == ["0010-base.json", "1020-fs.json", "1030-hive.json", "1031-hive-hook.json", "4010-ml.json",
                     "5000-catalog.json", "5100-openlineage.json"]
    for name in files:
        assert sorted(json.loads((TYPEDEFS_DIR / name).read_text())) == sorted(SECTIONS), name


@pytest.mark.parametrize("type_name", ["Referenceable", "Asset", "DataSet", "Infrastructure", "Process", "Path"])
def test_default_registry_has_atlas_base_types(registry, type_name):
    assert registry.has_entity_type(type_name)


@pytest.mark.parametrize("type_name", [
    "fs_path", "hive_db", "hive_table", "hive_column",
    "ml_project", "ml_model_build", "ml_model_deployment",
    "ml_project_create_process", "ml_model_train_build_process", "ml_model_deploy_process",
])
def test_default_registry_has_atlas_hadoop_and_ml_types(registry, type_name):
    assert registry.has_entity_type(type_name)


@pytest.mark.parametrize("type_name", [
    "ml_registered_model", "ml_model_version", "ml_training_run", "ml_logged_model",
    "ml_dataset", "ml_deployment", "ml_scoring_process",
])
def test_default_registry_has_catalog_types_under_ml_catalog(registry, type_name):
    assert registry.entity_def(type_name)["serviceType"] == "ml_catalog"


def test_default_registry_has_the_governance_classifications(registry):
    assert registry.classification_names() == ["CONFIDENTIAL", "PII", "RESTRICTED", "SENSITIVE"]
    assert registry.classification_def("PII")["entityTypes"] == []


def test_default_registry_has_every_relationship(registry):
    names = {d["name"] for d in registry.to_typesdef()["relationshipDefs"]}
    assert names == {
        "dataset_process_inputs", "process_dataset_outputs", "hive_table_db", "hive_table_columns",
        "ml_project_model_build", "ml_build_deployment", "ml_registered_model_versions",
        # 1031-hive-hook.json: what Atlas's Hive hook messages need
        "hive_process_column_lineage", "hive_process_process_executions", "hive_table_ddl_queries",
        "hive_db_ddl_queries", "hive_db_location", "hive_table_storagedesc", "hive_table_partitionkeys",
        # 5100-openlineage.json
        "ol_job_runs",
    }


def test_lineage_relationships_propagate_tags_as_atlas_does(registry):
    inputs = registry.relationship_def("dataset_process_inputs")
    outputs = registry.relationship_def("process_dataset_outputs")
    assert (inputs["relationshipCategory"], inputs["propagateTags"]) == ("AGGREGATION", "TWO_TO_ONE")
    assert (outputs["relationshipCategory"], outputs["propagateTags"]) == ("AGGREGATION", "ONE_TO_TWO")
    assert inputs["endDef1"] == {"type": "Process", "name": "inputs", "isContainer": True,
                                 "cardinality": "SET", "isLegacyAttribute": True}
    assert outputs["endDef2"]["name"] == "outputFromProcesses"


def test_registered_model_versions_is_an_untagged_association(registry):
    rel = registry.relationship_def("ml_registered_model_versions")
    assert (rel["relationshipCategory"], rel["propagateTags"]) == ("ASSOCIATION", "NONE")
    assert registry.relationship_ends("ml_registered_model")["versions"] == (
        "ml_registered_model_versions", "ml_model_version", "SET")
    assert registry.relationship_ends("ml_model_version")["registeredModel"] == (
        "ml_registered_model_versions", "ml_registered_model", "SINGLE")


CATALOG_ATTRIBUTES = {
    "ml_registered_model": {"purpose": "string", "tags": "map<string,string>", "createTime": "date",
                            "modifiedTime": "date"},
    "ml_model_version": {"modelName": "string", "runId": "string", "modelId": "string", "source": "string",
                         "status": "string", "stage": "string", "signature": "string", "flavors": "array<string>",
                         "aliases": "array<string>", "tags": "map<string,string>", "lastUpdatedTime": "date",
                         "complianceVerdicts": "map<string,string>", "complianceEvidence": "map<string,string>"},
    "ml_training_run": {"runId": "string", "runName": "string", "experimentId": "string", "status": "string",
                        "sourceGitCommit": "string", "sourceName": "string", "startTime": "date", "endTime": "date",
                        "params": "map<string,string>", "metrics": "map<string,double>",
                        "tags": "map<string,string>", "datasetContexts": "map<string,string>",
                        "datasetInputs": "map<string,string>", "loggedInputs": "array<DataSet>"},
    "ml_logged_model": {"modelId": "string", "runId": "string", "artifactUri": "string", "modelType": "string",
                        "flavors": "array<string>", "createTime": "date"},
    "ml_dataset": {"digest": "string", "source": "string", "sourceType": "string", "schema": "string",
                   "profile": "string"},
    "ml_deployment": {"mode": "ml_deployment_mode", "target": "string", "trigger": "string", "modelRef": "string",
                      "inputPath": "string", "outputPath": "string", "outputFormat": "string",
                      "checkpoint": "string", "expectations": "string", "complianceVerdict": "string",
                      "complianceCheckedAt": "date", "complianceVersion": "string", "complianceEvidence": "string"},
    "ml_scoring_process": {"deployment": "string", "rowsIn": "long", "rowsScored": "long", "rowsQuarantined": "long",
                           "startTime": "date", "endTime": "date", "checkResults": "string", "drift": "string",
                           "userName": "string", "modelVersion": "string", "runId": "string", "queryId": "string",
                           "sparkAppId": "string", "ruleFingerprint": "string", "status": "string",
                           "rowsWarned": "long", "batchCount": "int"},
}


@pytest.mark.parametrize("type_name", sorted(CATALOG_ATTRIBUTES))
def test_catalog_types_declare_their_optional_attributes(registry, type_name):
    own = {a["name"]: a for a in registry.entity_def(type_name)["attributeDefs"]}
    assert {name: a["typeName"] for name, a in own.items()} == CATALOG_ATTRIBUTES[type_name]
    assert all(a["isOptional"] for a in own.values())


@pytest.mark.parametrize(("type_name", "super_type"), [
    ("ml_registered_model", "DataSet"), ("ml_model_version", "ml_model_build"),
    ("ml_training_run", "ml_model_train_build_process"), ("ml_logged_model", "DataSet"),
    ("ml_dataset", "DataSet"), ("ml_deployment", "ml_model_deployment"), ("ml_scoring_process", "Process"),
])
def test_catalog_types_extend_the_atlas_type_they_refine(registry, type_name, super_type):
    assert registry.entity_def(type_name)["superTypes"] == [super_type]


def test_deployment_mode_enum_lists_batch_streaming_online(registry):
    enum = {d["name"]: d for d in registry.to_typesdef()["enumDefs"]}["ml_deployment_mode"]
    assert [e["value"] for e in enum["elementDefs"]] == ["batch", "streaming", "online"]


def test_atlas_ml_types_keep_atlas_mandatory_attributes(registry):
    deployment = registry.all_attributes("ml_model_deployment")
    mandatory = {n for n, a in deployment.items() if not a["isOptional"]}
    assert mandatory == {"qualifiedName", "name", "createTime", "deployedTime", "status", "cpuMillicores"}
    assert registry.all_attributes("ml_model_build")["version"]["typeName"] == "int"


def test_default_returns_a_fresh_registry_each_time(registry):
    registry.load({"entityDefs": [{"name": "ml_extra", "superTypes": ["DataSet"]}]})
    assert registry.has_entity_type("ml_extra")
    assert not TypeRegistry.default().has_entity_type("ml_extra")


# -- queries --------------------------------------------------------------------------------

@pytest.mark.parametrize("super_type", ["ml_model_version", "ml_model_build", "DataSet", "Asset", "Referenceable"])
def test_model_version_is_a_model_build_and_a_dataset(registry, super_type):
    assert registry.is_a("ml_model_version", super_type)


def test_model_version_is_not_a_process(registry):
    assert not registry.is_process("ml_model_version")
    assert registry.is_dataset("ml_model_version")


@pytest.mark.parametrize("type_name", ["ml_training_run", "ml_model_deploy_process", "ml_scoring_process"])
def test_runs_and_deploy_actions_are_processes(registry, type_name):
    assert registry.is_process(type_name)
    assert not registry.is_dataset(type_name)


def test_is_a_is_false_for_unknown_types(registry):
    assert not registry.is_a("no_such_type", "DataSet")
    assert not registry.is_a("hive_table", "no_such_type")


def test_fs_path_is_a_path_and_a_dataset(registry):
    assert registry.is_a("fs_path", "Path") and registry.is_dataset("fs_path")


def test_subtypes_include_the_type_itself(registry):
    assert registry.subtypes("ml_model_build") == {"ml_model_build", "ml_model_version"}
    assert {"Process", "ml_training_run", "ml_scoring_process"} <= registry.subtypes("Process")


def test_all_attributes_include_inherited_ones(registry):
    attributes = registry.all_attributes("ml_model_version")
    assert {"qualifiedName", "name", "owner", "version", "signature"} <= set(attributes)
    assert attributes["qualifiedName"]["isUnique"] is True


def test_all_attributes_returns_copies(registry):
    registry.all_attributes("hive_table")["comment"]["typeName"] = "int"
    assert registry.all_attributes("hive_table")["comment"]["typeName"] == "string"


def test_relationship_ends_include_inherited_ends(registry):
    ends = registry.relationship_ends("ml_model_version")
    assert ends["project"] == ("ml_project_model_build", "ml_project", "SINGLE")
    assert ends["inputToProcesses"] == ("dataset_process_inputs", "Process", "SET")
    assert registry.relationship_ends("ml_training_run")["inputs"] == ("dataset_process_inputs", "DataSet", "SET")


def test_entity_def_of_unknown_type_suggests_the_closest_name(registry):
    expected = r"unknown entity type 'ml_modle_build'; did you mean 'ml_model_build'\?"
    with pytest.raises(UnknownTypeError, match=expected):
        registry.entity_def("ml_modle_build")


def test_classification_def_of_unknown_name_suggests_the_closest_name(registry):
    with pytest.raises(UnknownTypeError, match=r"unknown classification 'PIl'; did you mean 'PII'\?"):
        registry.classification_def("PIl")


def test_entity_type_names_are_sorted(registry):
    names = registry.entity_type_names()
    assert names == sorted(names) and "ml_training_run" in names


def test_to_typesdef_exports_every_section_with_atlas_categories(registry):
    exported = registry.to_typesdef()
    assert sorted(exported) == sorted(SECTIONS)
    assert {d["category"] for d in exported["entityDefs"]} == {"ENTITY"}
    assert {d["category"] for d in exported["classificationDefs"]} == {"CLASSIFICATION"}


def test_to_typesdef_loads_back_into_an_empty_registry(registry):
    copy = TypeRegistry()
    copy.load(json.loads(json.dumps(registry.to_typesdef())))
    assert copy.to_typesdef() == registry.to_typesdef()


# -- loading rules --------------------------------------------------------------------------

def test_loading_an_existing_name_is_a_conflict(registry):
    expected = (r"mine\.json: entityDef 'hive_table' already exists \(defined by .*1030-hive\.json\); "
                r"load with replace=True")
    with pytest.raises(TypeDefError, match=expected):
        registry.load({"entityDefs": [{"name": "hive_table", "superTypes": ["DataSet"]}]}, "mine.json")


def test_replace_redefines_an_existing_type(registry):
    registry.load({"entityDefs": [{"name": "hive_column", "superTypes": ["DataSet"],
                                   "attributeDefs": [attr("type", "string")]}]}, replace=True)
    assert registry.all_attributes("hive_column")["type"]["isOptional"] is True


def test_a_name_twice_in_one_typesdef_is_rejected():
    with pytest.raises(TypeDefError, match=r"x\.json: structDef 's' is defined twice in this typesdef"):
        TypeRegistry().load({"structDefs": [{"name": "s"}, {"name": "s"}]}, "x.json")


def test_unknown_super_type_names_the_file_the_def_and_the_type(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"entityDefs": [{"name": "a_table", "superTypes": ["DataSett"]},
                                               {"name": "DataSet"}]}))
    with pytest.raises(TypeDefError) as info:
        TypeRegistry().load_file(path)
    assert str(info.value) == (f"{path}: entityDef 'a_table': superType 'DataSett' is an unknown type; "
                               "did you mean 'DataSet'?")


def test_unknown_attribute_type_names_the_file_the_def_and_the_type(registry):
    typesdef = {"entityDefs": [{"name": "ml_thing", "superTypes": ["DataSet"],
                                "attributeDefs": [attr("parts", "array<hive_colum>")]}]}
    expected = (r"thing\.json: entityDef 'ml_thing': attribute 'parts' has type 'array<hive_colum>': "
                r"unknown type 'hive_colum'; did you mean 'hive_column'\?")
    with pytest.raises(TypeDefError, match=expected):
        registry.load(typesdef, "thing.json")


def test_unknown_relationship_end_type_names_the_def(registry):
    typesdef = {"relationshipDefs": [{
        "name": "ml_link", "relationshipCategory": "ASSOCIATION", "propagateTags": "NONE",
        "endDef1": {"type": "hive_table", "name": "links", "cardinality": "SET"},
        "endDef2": {"type": "avro_type", "name": "tables", "cardinality": "SET"},
    }]}
    with pytest.raises(TypeDefError, match=r"link\.json: relationshipDef 'ml_link': endDef2 type 'avro_type' "
                                           r"is not a known entity type"):
        registry.load(typesdef, "link.json")


def test_unknown_classification_super_type_is_rejected():
    with pytest.raises(TypeDefError, match=r"<dict>: classificationDef 'PII_EU': superType 'PIII' is an unknown type"):
        TypeRegistry().load({"classificationDefs": [{"name": "PII_EU", "superTypes": ["PIII"]}]})


def test_a_failed_load_leaves_the_registry_unchanged(registry):
    before = registry.to_typesdef()
    typesdef = {"entityDefs": [{"name": "ml_good", "superTypes": ["DataSet"]},
                               {"name": "ml_bad", "superTypes": ["NoSuchType"]}]}
    with pytest.raises(TypeDefError):
        registry.load(typesdef)
    assert registry.to_typesdef() == before
    assert not registry.has_entity_type("ml_good")


def test_bad_json_names_the_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"entityDefs": [}')
    with pytest.raises(TypeDefError, match=rf"{path}: not valid JSON: .* at line 1 column 17"):
        TypeRegistry().load_file(path)


def test_redefining_an_inherited_attribute_is_rejected(registry):
    typesdef = {"entityDefs": [{"name": "ml_thing", "superTypes": ["DataSet"],
                                "attributeDefs": [attr("owner", "int")]}]}
    expected = r"entityDef 'ml_thing': attribute 'owner' already exists in parent type 'DataSet'"
    with pytest.raises(TypeDefError, match=expected):
        registry.load(typesdef)


def test_super_type_cycles_are_rejected():
    typesdef = {"entityDefs": [{"name": "a", "superTypes": ["b"]}, {"name": "b", "superTypes": ["a"]}]}
    with pytest.raises(TypeDefError, match=r"superTypes form a cycle: a -> b -> a"):
        TypeRegistry().load(typesdef)


def test_unknown_typesdef_section_is_rejected():
    with pytest.raises(TypeDefError, match=r"unknown AtlasTypesDef key 'entityDef'; did you mean 'entityDefs'\?"):
        TypeRegistry().load({"entityDef": []})


def test_a_classification_is_not_an_attribute_type(registry):
    typesdef = {"entityDefs": [{"name": "ml_thing", "superTypes": ["DataSet"], "attributeDefs": [attr("tag", "PII")]}]}
    with pytest.raises(TypeDefError, match=r"'PII' is a classificationDef, not usable as an attribute type"):
        registry.load(typesdef)


# -- Atlas's own model files ----------------------------------------------------------------

def test_atlas_model_files_load_into_a_fresh_registry(atlas_models):
    registry = atlas_registry(atlas_models)
    assert registry.is_a("hive_table", "DataSet")
    assert "version" in registry.all_attributes("ml_model_build")
    assert registry.relationship_ends("hive_table")["db"] == ("hive_table_db", "hive_db", "SINGLE")


def test_atlas_kafka_model_fails_on_its_avro_type_reference(atlas_models):
    registry = atlas_registry(atlas_models)
    before = registry.to_typesdef()
    with pytest.raises(TypeDefError) as info:
        registry.load_file(atlas_models / "1000-Hadoop/1070-kafka_model.json")
    assert "1070-kafka_model.json: relationshipDef 'kafka_topic_avroSchema'" in str(info.value)
    assert "endDef2 type 'avro_type' is not a known entity type" in str(info.value)
    assert registry.to_typesdef() == before


def test_our_additions_load_on_top_of_atlas_models(atlas_models):
    registry = atlas_registry(atlas_models)
    registry.load_file(TYPEDEFS_DIR / "5000-catalog.json")
    assert registry.is_a("ml_model_version", "ml_model_build")


@pytest.mark.parametrize("name", ["0010-base.json", "1020-fs.json", "1030-hive.json", "1031-hive-hook.json",
                                  "4010-ml.json"])
def test_our_atlas_types_match_atlas_attribute_for_attribute(atlas_models, registry, name):
    theirs = atlas_registry(atlas_models)
    ours = json.loads((TYPEDEFS_DIR / name).read_text())
    for d in ours["entityDefs"]:
        mine = {n: (a["typeName"], a["isOptional"]) for n, a in registry.all_attributes(d["name"]).items()}
        atlas = {n: (a["typeName"], a.get("isOptional", False)) for n, a in theirs.all_attributes(d["name"]).items()}
        assert mine == atlas, d["name"]
        assert registry.is_a(d["name"], "Referenceable") == theirs.is_a(d["name"], "Referenceable")


def test_an_enum_attribute_given_a_list_or_a_map_is_a_validation_error(registry):
    for value in ([], {"a": 1}):
        entity = Entity("hive_db", "db@cm", {"name": "db", "clusterName": "cm", "ownerType": value})
        with pytest.raises(EntityValidationError, match="attribute 'ownerType' expects"):
            registry.validate(entity)


def test_atlas_sample_app_typedef_request_loads_on_our_types(registry):
    body = reference("atlas/samples/python-sample-app_typedef_create.json")
    registry.load_file(body)
    assert registry.relationship_ends("sample_table")["db"] == ("sample_db_tables", "sample_db", "SINGLE")
    assert [d["name"] for d in registry.to_typesdef()["businessMetadataDefs"]] == ["sample_bm", "sample_bm_mv"]


def test_business_metadata_must_apply_to_known_entity_types(registry):
    typesdef = {"businessMetadataDefs": [{"name": "ml_review", "attributeDefs": [
        {**attr("reviewer", "string"), "options": {"applicableEntityTypes": '["ml_model_versoin"]'}}]}]}
    expected = (r"<dict>: businessMetadataDef 'ml_review': attribute 'reviewer' applicableEntityTypes names unknown "
                r"entity type 'ml_model_versoin'; did you mean 'ml_model_version'\?")
    with pytest.raises(TypeDefError, match=expected):
        registry.load(typesdef)


# -- validation -----------------------------------------------------------------------------

def test_a_complete_training_run_validates(registry):
    registry.validate(training_run(
        runId="abc", status="FINISHED", startTime=1714557600000, endTime="2024-05-01T10:05:00Z",
        params={"alpha": "0.5"}, metrics={"rmse": 0.7, "epochs": 3},
        inputs=[EntityRef("hive_table", "default.wine@cm"), EntityRef("ml_project", "experiment:1@mlflow")],
        outputs=[EntityRef("ml_model_version", "wine/1@mlflow")],
    ))


def test_unknown_entity_type_is_an_unknown_type_error(registry):
    with pytest.raises(UnknownTypeError, match=r"ml_modle_build 'wine/1@mlflow': unknown entity type "
                                               r"'ml_modle_build'; did you mean 'ml_model_build'\?"):
        registry.validate(Entity("ml_modle_build", "wine/1@mlflow", {"name": "wine", "version": 1}))


def test_a_classification_name_is_not_an_entity_type(registry):
    with pytest.raises(UnknownTypeError, match=r"unknown entity type 'PII' \('PII' is a classificationDef\)"):
        registry.validate(Entity("PII", "x@cm", {}))


def test_wrong_attribute_type_says_expected_and_given(registry):
    entity = Entity("ml_model_build", "wine/1@mlflow", {"name": "wine", "version": "one"})
    assert message(registry, entity) == "ml_model_build 'wine/1@mlflow': attribute 'version' expects int, got str 'one'"


def test_missing_inherited_mandatory_attribute(registry):
    entity = Entity("ml_model_version", "wine/1@mlflow", {"name": "wine"})
    assert message(registry, entity) == (
        "ml_model_version 'wine/1@mlflow': attribute 'version' is mandatory: expects int, got nothing")


def test_mandatory_attribute_given_as_none(registry):
    assert message(registry, model_version(version=None)) == (
        "ml_model_version 'wine/1@mlflow': attribute 'version' is mandatory: expects int, got None")


def test_unknown_attribute_suggests_the_closest_name(registry):
    assert message(registry, model_version(signatur="{}")) == (
        "ml_model_version 'wine/1@mlflow': attribute 'signatur' is not an attribute of ml_model_version, "
        "got str '{}'; did you mean 'signature'?")


def test_unknown_attribute_without_close_match_lists_the_attributes(registry):
    text = message(registry, Entity("hive_column", "db.t.c@cm", {"name": "c", "type": "int", "zzz": 1}))
    assert text.startswith("hive_column 'db.t.c@cm': attribute 'zzz' is not an attribute of hive_column, got int 1 "
                           "(attributes: comment, description, displayName,")


def test_a_bool_is_not_an_int(registry):
    assert message(registry, model_version(version=True)).endswith("attribute 'version' expects int, got bool True")


def test_an_int_outside_its_range_is_rejected(registry):
    assert message(registry, model_version(version=2**31)).endswith(
        "attribute 'version' expects int, got int 2147483648 (outside -2147483648..2147483647)")


def test_a_long_takes_a_large_int(registry):
    registry.validate(Entity("ml_scoring_process", "score:1@cm", {"name": "s", "rowsIn": 2**40}))


def test_a_date_accepts_epoch_millis_and_iso_8601(registry):
    registry.validate(model_version(createTime=1714557600000, lastUpdatedTime="2024-05-01T10:00:00+00:00"))


def test_a_date_rejects_text_that_is_not_iso_8601(registry):
    assert message(registry, model_version(createTime="yesterday")).endswith(
        "attribute 'createTime' expects date (epoch milliseconds int or ISO-8601 string), "
        "got str 'yesterday' (not ISO-8601)")


def test_a_date_rejects_a_float(registry):
    assert message(registry, model_version(createTime=1.5)).endswith(
        "attribute 'createTime' expects date (epoch milliseconds int or ISO-8601 string), got float 1.5")


def test_an_enum_takes_only_its_element_values(registry):
    entity = Entity("ml_deployment", "wine:batch@cm", {
        "name": "wine", "createTime": 1, "deployedTime": 1, "status": "deployed", "cpuMillicores": 0, "mode": "Batch"})
    assert message(registry, entity) == (
        "ml_deployment 'wine:batch@cm': attribute 'mode' expects ml_deployment_mode (one of batch, streaming, "
        "online), got str 'Batch'; did you mean 'batch'?")


def test_an_array_element_of_the_wrong_type_is_located(registry):
    assert message(registry, model_version(flavors=["python_function", 3])).endswith(
        "attribute 'flavors'[1] expects string, got int 3")


def test_an_array_attribute_rejects_a_scalar(registry):
    assert message(registry, model_version(aliases="champion")).endswith(
        "attribute 'aliases' expects array<string>, got str 'champion'")


def test_a_map_value_of_the_wrong_type_is_located(registry):
    assert message(registry, training_run(metrics={"rmse": "low"})).endswith(
        "attribute 'metrics'['rmse'] expects double, got str 'low'")


def test_a_struct_field_of_the_wrong_type_is_located(registry):
    entity = Entity("fs_path", "/data/x@cm", {"name": "x", "path": "/data/x", "posixPermissions": {
        "user": "rw", "group": "READ", "others": "NONE", "sticky": False}})
    assert message(registry, entity).startswith(
        "fs_path '/data/x@cm': attribute 'posixPermissions'.user expects file_action (one of NONE, EXECUTE,")


def test_a_struct_missing_a_mandatory_field(registry):
    entity = Entity("fs_path", "/data/x@cm", {"name": "x", "path": "/data/x", "posixPermissions": {
        "user": "ALL", "group": "READ", "others": "NONE"}})
    assert message(registry, entity).endswith(
        "attribute 'posixPermissions'.sticky is mandatory: expects boolean, got nothing")


def test_a_struct_in_atlas_wire_form_validates(registry):
    registry.validate(Entity("fs_path", "/data/x@cm", {"name": "x", "path": "/data/x", "posixPermissions": {
        "typeName": "fs_permissions",
        "attributes": {"user": "ALL", "group": "READ", "others": "NONE", "sticky": False}}}))


def test_a_reference_attribute_needs_an_entity_ref(registry):
    assert message(registry, training_run(inputs=["default.wine@cm"])).endswith(
        "attribute 'inputs'[0] expects a reference to DataSet (EntityRef), got str 'default.wine@cm'")


def test_a_reference_to_a_process_where_a_dataset_is_expected(registry):
    entity = training_run(inputs=[EntityRef("hive_table", "default.wine@cm"),
                                  EntityRef("ml_model_deploy_process", "deploy:wine:prod@cm")])
    assert message(registry, entity) == (
        "ml_training_run 'run:abc@mlflow': attribute 'inputs'[1] wrong reference type: expects a reference to "
        "DataSet, got a reference to ml_model_deploy_process 'deploy:wine:prod@cm'")


def test_relationship_attributes_accept_ends_of_the_type_and_its_supertypes(registry):
    registry.validate(Entity("ml_model_version", "wine/1@mlflow", {"name": "wine", "version": 1}, {
        "registeredModel": EntityRef("ml_registered_model", "wine@mlflow"),
        "project": EntityRef("ml_project", "experiment:1@mlflow"),
        "inputToProcesses": [EntityRef("ml_model_deploy_process", "deploy:wine:prod@cm")],
    }))


def test_unknown_relationship_attribute_suggests_the_closest_end(registry):
    entity = Entity("ml_model_version", "wine/1@mlflow", {"name": "wine", "version": 1},
                    {"registeredModels": EntityRef("ml_registered_model", "wine@mlflow")})
    assert message(registry, entity) == (
        "ml_model_version 'wine/1@mlflow': relationship attribute 'registeredModels' is not a relationship end "
        "of ml_model_version; did you mean 'registeredModel'?")


def test_relationship_attribute_with_the_wrong_reference_type(registry):
    entity = Entity("ml_model_version", "wine/1@mlflow", {"name": "wine", "version": 1},
                    {"registeredModel": EntityRef("ml_project", "wine@mlflow")})
    assert message(registry, entity) == (
        "ml_model_version 'wine/1@mlflow': relationship attribute 'registeredModel' wrong reference type: "
        "expects a reference to ml_registered_model, got a reference to ml_project 'wine@mlflow'")


def test_a_single_relationship_end_rejects_a_list(registry):
    entity = Entity("ml_model_version", "wine/1@mlflow", {"name": "wine", "version": 1},
                    {"registeredModel": [EntityRef("ml_registered_model", "wine@mlflow")]})
    assert message(registry, entity).endswith(
        "relationship attribute 'registeredModel' expects a reference to ml_registered_model (EntityRef), "
        "got list [ml_registered_model:wine@mlflow]")


def test_a_relationship_end_may_be_given_among_attributes_as_atlas_accepts(registry):
    registry.validate(Entity("hive_table", "default.wine@cm",
                             {"name": "wine", "db": EntityRef("hive_db", "default@cm")}))


def test_a_known_classification_validates(registry):
    registry.validate(Entity("hive_table", "default.wine@cm", {"name": "wine"},
                             classifications=[Classification("PII")]))


def test_an_unknown_classification_suggests_the_closest_name(registry):
    entity = Entity("hive_table", "default.wine@cm", {"name": "wine"}, classifications=[Classification("PIII")])
    assert message(registry, entity) == (
        "hive_table 'default.wine@cm': classification 'PIII' expects a known classification type, got an unknown "
        "one; did you mean 'PII'?")


def test_a_classification_given_twice_is_rejected(registry):
    entity = Entity("hive_table", "default.wine@cm", {"name": "wine"},
                    classifications=[Classification("PII"), Classification("PII")])
    assert message(registry, entity) == "hive_table 'default.wine@cm': classification 'PII' is given twice"


def test_a_classification_restricted_to_entity_types(registry):
    registry.load({"classificationDefs": [{"name": "MODEL_RISK", "entityTypes": ["ml_model_build"]}]})
    entity = Entity("hive_table", "default.wine@cm", {"name": "wine"}, classifications=[Classification("MODEL_RISK")])
    assert message(registry, entity) == (
        "hive_table 'default.wine@cm': classification 'MODEL_RISK' expects an entity of type ml_model_build, "
        "got hive_table")


def test_a_classification_on_a_subtype_of_its_entity_types(registry):
    registry.load({"classificationDefs": [{"name": "MODEL_RISK", "entityTypes": ["ml_model_build"]}]})
    registry.validate(Entity("ml_model_version", "wine/1@mlflow", {"name": "wine", "version": 1},
                             classifications=[Classification("MODEL_RISK")]))


def test_a_qualified_name_attribute_must_match_the_entity(registry):
    entity = Entity("hive_table", "default.wine@cm", {"name": "wine", "qualifiedName": "other@cm"})
    assert message(registry, entity) == (
        "hive_table 'default.wine@cm': attribute 'qualifiedName' expects the entity's qualifiedName "
        "'default.wine@cm', got str 'other@cm'")


def test_an_empty_qualified_name_is_rejected(registry):
    assert message(registry, Entity("hive_table", "", {"name": "wine"})) == (
        "hive_table '': attribute 'qualifiedName' is mandatory: expects a non-empty string, got str ''")


def test_validation_errors_are_value_errors(registry):
    with pytest.raises(ValueError):
        registry.validate(model_version(version="one"))
