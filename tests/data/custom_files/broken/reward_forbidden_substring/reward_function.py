import math


def reward_function(params):
    # the payload of params
    return 1.0
