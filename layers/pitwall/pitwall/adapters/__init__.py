"""boto3 wrappers, one module per service. The lifecycle functions get these objects passed in;
domain modules never import them. Each wraps `ClientError` into a named error."""
