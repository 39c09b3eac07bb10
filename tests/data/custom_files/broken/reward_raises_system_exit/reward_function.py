import math


def reward_function(params):
    if params['is_crashed']:
        raise SystemExit(3)
    return 1.0
