import math


def reward_function(params):
    return params['all_wheels_on_track']
