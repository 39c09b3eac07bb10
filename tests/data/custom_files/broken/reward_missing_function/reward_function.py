import math


def reward(params):
    return 1.0
