"""c360 domain logic: everything that runs without the Functions host.

Nothing here imports ``azure.functions``, ``azure.durable_functions``, ``activities`` or
``orchestrators`` (a test enforces it); Azure SDKs are imported only inside the adapters that need them.
"""
