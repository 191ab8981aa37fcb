"""A local Azure Functions host for this app: runs the real function app without the Functions host.

It drives the real ``azure-functions-durable`` SDK by history replay exactly as the Durable extension
does, executes activities through the worker's own converters, and serves the Durable client RPC, the
app's HTTP routes and the Event Grid webhook on 127.0.0.1 so the real starters run unchanged.
"""

from __future__ import annotations

from local_host.host import HostOptions, LocalFunctionHost
from local_host.taskhub import InstanceState, RuntimeStatus

__all__ = ["HostOptions", "InstanceState", "LocalFunctionHost", "RuntimeStatus"]
