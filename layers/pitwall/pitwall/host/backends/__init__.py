"""The host agent's DRFC backend on an instance: `drfc.RealDrfc` (the local cloud's stand-in is
`pitwall_local.simulated_drfc.SimulatedDrfc`, outside the layer)."""
