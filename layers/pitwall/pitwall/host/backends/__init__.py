"""The two DRFC backends of the host agent: `drfc.RealDrfc` and `simulated.SimulatedDrfc`."""
