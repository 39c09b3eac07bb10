import math


def reward_function(params):
    label = f"{params["x"]:.2f}"
    return float(len(label))
