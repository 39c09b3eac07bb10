"""DeepRacer on AWS (DRoA), the self-hosted console: its import contract (`contract`), the package
Pitwall builds for it and the car file (`package`, pure), and the client that signs in, uploads
and imports (`client`, the adapter)."""
