import math


def reward_function(params):
    if params['objects_location']:
        return 0
    return 1.0
