"""Object avoidance: keep to a lane, and leave the lane of an object coming up ahead.

For OBJECT_AVOIDANCE and HEAD_TO_BOT races. The next object ahead (`closest_objects[1]`) is
compared with the car: in the same lane (same side of the centre line) and close ahead costs
most of the reward; in the other lane costs nothing. Staying within the track earns the
lane reward. With no objects (a time trial) it is a plain stay-on-the-track reward.
"""

MINIMUM = 1e-3
LANE_WEIGHT = 1.0
AVOID_WEIGHT = 4.0
# (metres ahead along the track, share of the avoidance reward kept) in the same lane
TOO_CLOSE = ((0.5, 0.0), (0.8, 0.2), (1.5, 0.5))


def reward_function(params):
    if params["is_offtrack"] or params["is_crashed"]:
        return float(MINIMUM)
    lane = 1.0 if params["all_wheels_on_track"] else 0.0
    avoid = 1.0
    objects = params.get("objects_location") or []
    if objects:
        following = params["closest_objects"][1]
        if 0 <= following < len(objects):
            track_length = params["track_length"]
            gap = (params["objects_distance"][following] - params["projection_distance"]) % track_length
            same_lane = params["objects_left_of_center"][following] == params["is_left_of_center"]
            if same_lane:
                for metres, kept in TOO_CLOSE:
                    if gap < metres:
                        avoid = kept
                        break
    reward = LANE_WEIGHT * lane + AVOID_WEIGHT * avoid
    return float(max(reward, MINIMUM))
