import math


def reward_function(params):
    if params['is_reversed']:
        return params['waypoints'][10 ** 6][0]
    return 1.0
