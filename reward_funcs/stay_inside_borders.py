"""Stay inside the borders: a flat reward for every step with all four wheels on the track.

The car is free to use the whole width (it can cut corners), as long as it keeps a small
margin from the border. Off the track, or too close to the border, gets the minimum.
"""

MINIMUM = 1e-3
MARGIN = 0.05  # m kept between the car's front point and the border


def reward_function(params):
    if params["is_offtrack"] or params["is_crashed"] or not params["all_wheels_on_track"]:
        return float(MINIMUM)
    room = 0.5 * params["track_width"] - params["distance_from_center"]
    if room >= MARGIN:
        return 1.0
    return float(MINIMUM)
