"""Follow the centre line without zig-zagging.

A reward function sees one step at a time, not the previous action, so it cannot see a
zig-zag directly. What it can see is its cause: sharp steering, worst at speed. The centre-line
bands give the base reward; steering beyond 15 degrees costs a fifth of it, and steering hard
at high speed costs up to half again.
"""

MINIMUM = 1e-3
BANDS = ((0.1, 1.0), (0.25, 0.5), (0.5, 0.1))  # (share of the width, reward)
STEERING_THRESHOLD = 15.0  # degrees
MAX_STEERING = 30.0  # degrees
MAX_SPEED = 4.0  # m/s


def reward_function(params):
    if params["is_offtrack"] or params["is_crashed"]:
        return float(MINIMUM)
    distance = params["distance_from_center"]
    width = params["track_width"]
    reward = MINIMUM
    for share, band_reward in BANDS:
        if distance <= share * width:
            reward = band_reward
            break
    steering = abs(params["steering_angle"])
    if steering > STEERING_THRESHOLD:
        reward *= 0.8
    harshness = min(1.0, (steering / MAX_STEERING) * (params["speed"] / MAX_SPEED))
    reward *= 1.0 - 0.5 * harshness
    return float(max(reward, MINIMUM))
