import math


def reward_function(params):
    return float('nan') if params['steps'] > 2 else 1.0
