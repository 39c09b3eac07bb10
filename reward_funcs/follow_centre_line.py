"""Follow the centre line: the closer to the centre line, the higher the reward.

Three bands around the centre line (10 %, 25 % and 50 % of the track width) give 1.0, 0.5
and 0.1; anything farther, or off the track, gets the minimum. The first reward function most
racers train with: it teaches the car to stay on the track before it learns to be fast.
"""

MINIMUM = 1e-3
BANDS = ((0.1, 1.0), (0.25, 0.5), (0.5, 0.1))  # (share of the width, reward)


def reward_function(params):
    if params["is_offtrack"] or params["is_crashed"]:
        return float(MINIMUM)
    distance = params["distance_from_center"]
    width = params["track_width"]
    for share, reward in BANDS:
        if distance <= share * width:
            return float(reward)
    return float(MINIMUM)
