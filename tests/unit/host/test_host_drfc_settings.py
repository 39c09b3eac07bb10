import pytest

from pitwall.host import drfc_settings
from pitwall.host.errors import InvalidRunSpec
from pitwall.host.protocol import Mode, RunSpec


def spec(**overrides) -> RunSpec:
    fields = {
        "run_id": "r1",
        "segment": 1,
        "mode": Mode.TRAIN,
        "bucket": "models-bucket",
        "region": "eu-west-1",
        "model_prefix": "models/m/seg-001",
        "run_settings": {"DR_WORLD_NAME": "reInvent2019_track"},
        "system_settings": {"DR_WORKERS": "2"},
        "deadline_epoch": 1_800_000_000.0,
    }
    return RunSpec(**{**fields, **overrides})


def test_the_spec_fields_are_written_into_the_settings():
    settings = drfc_settings.run_settings(spec(pretrained_prefix="models/m/seg-000"))
    assert settings["DR_LOCAL_S3_MODEL_PREFIX"] == "models/m/seg-001"
    assert settings["DR_LOCAL_S3_PRETRAINED"] == "True"
    assert settings["DR_LOCAL_S3_PRETRAINED_PREFIX"] == "models/m/seg-000"
    assert settings["DR_LOCAL_S3_CUSTOM_FILES_PREFIX"] == "runs/r1/custom_files"
    assert settings["DR_WORLD_NAME"] == "reInvent2019_track"
    system = drfc_settings.system_settings(spec())
    assert system["DR_LOCAL_S3_BUCKET"] == "models-bucket"
    assert system["DR_UPLOAD_S3_BUCKET"] == "models-bucket"
    assert system["DR_AWS_APP_REGION"] == "eu-west-1"
    assert system["DR_CLOUD"] == "aws"


def test_a_setting_that_contradicts_the_spec_is_an_error_naming_both():
    with pytest.raises(InvalidRunSpec) as error:
        drfc_settings.run_settings(spec(run_settings={"DR_LOCAL_S3_MODEL_PREFIX": "models/other"}))
    assert "run_settings.DR_LOCAL_S3_MODEL_PREFIX" in str(error.value)
    assert "models/other" in str(error.value) and "models/m/seg-001" in str(error.value)
    with pytest.raises(InvalidRunSpec, match=r"system_settings\.DR_LOCAL_S3_BUCKET"):
        drfc_settings.system_settings(spec(system_settings={"DR_LOCAL_S3_BUCKET": "elsewhere"}))


def test_pretrained_without_a_source_is_an_error():
    with pytest.raises(InvalidRunSpec, match="pretrained_prefix"):
        drfc_settings.run_settings(spec(run_settings={"DR_LOCAL_S3_PRETRAINED": "True"}))


def test_a_value_drfc_would_split_is_refused():
    with pytest.raises(InvalidRunSpec, match=r"run_settings\.DR_CAR_NAME"):
        drfc_settings.run_settings(spec(run_settings={"DR_CAR_NAME": "fast car"}))


@pytest.mark.parametrize("workers", ["0", "-1", "two"])
def test_a_bad_worker_count_names_the_setting_and_what_is_allowed(workers):
    with pytest.raises(InvalidRunSpec, match=r"system_settings.DR_WORKERS is .*integer >= 1"):
        drfc_settings.worker_count(spec(system_settings={"DR_WORKERS": workers}))


def test_rendering_keeps_the_existing_file_and_sets_keys_in_place():
    existing = "# DRFC run.env\nDR_WORLD_NAME=old_track  # the track\nDR_RACE_TYPE=TIME_TRIAL\n"
    rendered = drfc_settings.render_env(existing, {"DR_WORLD_NAME": "new_track", "DR_NEW": "1"})
    assert rendered == (
        "# DRFC run.env\nDR_WORLD_NAME=new_track  # the track\nDR_RACE_TYPE=TIME_TRIAL\nDR_NEW=1\n"
    )
