def reward_function(params, scale):
    return 1.0 * scale
