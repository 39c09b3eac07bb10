from pitwall import layout


def test_checkpoint_number_is_the_part_before_step():
    assert layout.checkpoint_number("12_Step-34567.ckpt") == 12
    assert layout.is_checkpoint_name("12_Step-34567.ckpt")
    assert not layout.is_checkpoint_name(".coach_checkpoint")


def test_model_keys_follow_the_drfc_layout():
    keys = layout.ModelKeys("models/fast/seg-000")
    assert keys.training_metrics() == "models/fast/seg-000/metrics/TrainingMetrics.json"
    assert keys.training_metrics(2) == "models/fast/seg-000/metrics/TrainingMetrics_2.json"
    assert keys.checkpoints_json == "models/fast/seg-000/model/deepracer_checkpoints.json"
    assert keys.checkpoint_files("3_Step-900.ckpt") == [
        "models/fast/seg-000/model/3_Step-900.ckpt.index",
        "models/fast/seg-000/model/3_Step-900.ckpt.meta",
        "models/fast/seg-000/model/3_Step-900.ckpt.data-00000-of-00001",
        "models/fast/seg-000/model/model_3.pb",
    ]
    assert keys.evaluation_metrics("20261122101500") == (
        "models/fast/seg-000/metrics/evaluation/evaluation-20261122101500.json"
    )


def test_each_segment_gets_a_new_prefix():
    assert layout.segment_model_prefix("fast", 0) != layout.segment_model_prefix("fast", 1)


def test_heartbeats_are_recognised_and_other_keys_are_not():
    keys = layout.ModelKeys(layout.segment_model_prefix("fast", 1))
    run = layout.RunKeys("run-1")

    metrics = layout.classify_heartbeat(keys.training_metrics(1))
    assert metrics == layout.Heartbeat(layout.HeartbeatKind.TRAINING_METRICS, keys.prefix, worker=1)
    checkpoints = layout.classify_heartbeat(keys.checkpoints_json)
    assert checkpoints == layout.Heartbeat(layout.HeartbeatKind.CHECKPOINTS, keys.prefix)
    evaluation = layout.classify_heartbeat(keys.evaluation_metrics("20261122101500"))
    assert evaluation == layout.Heartbeat(layout.HeartbeatKind.EVALUATION_METRICS, keys.prefix)
    status = layout.classify_heartbeat(run.host_status)
    assert status == layout.Heartbeat(layout.HeartbeatKind.HOST_STATUS, run.prefix)

    assert layout.classify_heartbeat(keys.model_metadata) is None
    assert layout.classify_heartbeat(keys.evaluation_metrics_folder + "notes.json") is None
    assert layout.classify_heartbeat(keys.prefix + "/ip/hyperparameters.json") is None


def test_inbox_request_folder_only_for_the_request_file_one_level_down():
    assert layout.inbox_request_folder("inbox/my-model/run-request.json") == "inbox/my-model/"
    assert layout.inbox_request_folder("inbox/my-model/reward_function.py") is None
    assert layout.inbox_request_folder("inbox/a/b/run-request.json") is None
    assert layout.inbox_request_folder("models/x/run-request.json") is None
