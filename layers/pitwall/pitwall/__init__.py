"""Pitwall: the shared package of the DeepRacer training controller.

Domain modules are pure (no boto3, no os.environ); `aws` and the adapters talk to AWS;
`functions/*/app.py` are thin handlers over both.
"""
