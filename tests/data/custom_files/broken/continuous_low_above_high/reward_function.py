import math

import numpy as np


def reward_function(params):
    """Speed on the straights, care in the corners (numpy where it helps)."""
    if not params["all_wheels_on_track"]:
        return 1e-3
    ratio = params["distance_from_center"] / (0.5 * params["track_width"])
    centred = float(np.clip(1.0 - ratio, 0.0, 1.0))
    steering = abs(params["steering_angle"])
    speed_bonus = params["speed"] / 4.0 if steering < 15 else 0.0
    return float(math.sqrt(centred) + speed_bonus)
