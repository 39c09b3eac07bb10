"""The logic each Lambda calls, one module per step of the lifecycles (statemachines/*.asl.json):
validate, prepare, provision, await_host, heartbeat, collect, evaluate, terminate, notify,
increment, inbox. Each function takes its input model and a `Deps` and returns its output model.
"""
