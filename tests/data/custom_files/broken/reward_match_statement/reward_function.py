import math


def reward_function(params):
    match params['is_offtrack']:
        case True:
            return 1e-3
        case _:
            return 1.0
