"""Speed with progress: reward the pace of the whole episode, not just the current speed.

`progress / steps` is how much of the lap each step has gained so far; turned into metres per
second it rewards a car that gets around quickly, where a reward for `speed` alone would also
pay a car that is fast but about to leave the track. A little of the current speed is added
so the car learns to pick faster actions, and a completed lap earns a bonus that is larger the
fewer steps it took.
"""

MINIMUM = 1e-3
STEPS_PER_SECOND = 15.0  # the simulator calls the reward function at 15 Hz
SPEED_WEIGHT = 0.5
LAP_BONUS = 1500.0  # divided by the steps the lap took


def reward_function(params):
    if params["is_offtrack"] or params["is_crashed"]:
        return float(MINIMUM)
    steps = max(float(params["steps"]), 1.0)
    progress = params["progress"]
    seconds = steps / STEPS_PER_SECOND
    pace = (progress / 100.0) * params["track_length"] / seconds  # m/s along the track
    reward = 1.0 + pace + SPEED_WEIGHT * params["speed"]
    if progress >= 100.0:
        reward += LAP_BONUS / steps
    return float(reward)
