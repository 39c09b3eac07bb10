import math
import os

def reward_function(params):
    return 1.0
