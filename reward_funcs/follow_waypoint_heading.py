"""Follow the waypoint heading: point the car where the track goes a little way ahead.

The track's direction is taken from the previous waypoint to a waypoint a few places beyond
the next one (`closest_waypoints` gives both; no search over the waypoints). The reward falls
from 1.0 when the car points that way to the minimum at 90 degrees off. Looking ahead makes
the car turn in before a corner, which is what a racing line does.
"""

import math

MINIMUM = 1e-3
LOOK_AHEAD = 2  # waypoints beyond the next one
WORST_ANGLE = 90.0  # degrees off the track direction that earn the minimum


def reward_function(params):
    if params["is_offtrack"] or params["is_crashed"]:
        return float(MINIMUM)
    waypoints = params["waypoints"]
    previous, following = params["closest_waypoints"]
    last = len(waypoints) - 1
    is_loop = waypoints[0] == waypoints[last]  # a loop repeats its first waypoint at the end
    ahead = (following + LOOK_AHEAD) % last if is_loop else min(following + LOOK_AHEAD, last)
    start = waypoints[previous]
    target = waypoints[ahead]
    direction = math.degrees(math.atan2(target[1] - start[1], target[0] - start[0]))
    off = abs(params["heading"] - direction) % 360.0
    off = min(off, 360.0 - off)
    reward = 1.0 - min(off, WORST_ANGLE) / WORST_ANGLE
    if not params["all_wheels_on_track"]:
        reward *= 0.5
    return float(max(reward, MINIMUM))
