import math


def reward_function(params):
    if params['is_offtrack']:
        return 1.0 / 0
    return 1.0
