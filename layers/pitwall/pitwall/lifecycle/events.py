"""The EventBridge events that chain lifecycles (source `pitwall`), one name each: the rules in
template.yaml match these detail types."""

TRAINING_REQUESTED = "Training requested"  # -> Train machine (inbox uploads, increments)
MODEL_TRAINED = "Model trained"  # -> Evaluate machine when the run asked for an evaluation
MODEL_EVALUATED = "Model evaluated"
RUN_FAILED = "Run failed"
MODEL_IMPORTED = "Model imported"  # into DRoA: READY, ERROR or FAILED
