import math


def reward_function(params):
    return float(eval('1.0'))
