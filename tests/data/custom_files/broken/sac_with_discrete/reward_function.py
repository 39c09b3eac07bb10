import math


def reward_function(params):
    """Follow the centre line; stay on the track; a little for speed."""
    if params["is_offtrack"] or params["is_crashed"]:
        return 1e-3
    half_width = 0.5 * params["track_width"]
    centred = 1.0 - min(params["distance_from_center"] / half_width, 1.0)
    prev_point = params["waypoints"][params["closest_waypoints"][0]]
    next_point = params["waypoints"][params["closest_waypoints"][1]]
    track_heading = math.degrees(math.atan2(next_point[1] - prev_point[1], next_point[0] - prev_point[0]))
    heading_error = abs((params["heading"] - track_heading + 180.0) % 360.0 - 180.0)
    aligned = 1.0 if heading_error < 10.0 else 0.5
    return float(centred * aligned + 0.1 * params["speed"])
