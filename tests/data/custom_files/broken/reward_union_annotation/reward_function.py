def reward_function(params: dict | None) -> float:
    return 1.0
