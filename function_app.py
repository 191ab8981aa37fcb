"""The c360 function app: registration of blueprints, nothing else."""

import azure.durable_functions as df
import azure.functions as func

from activities import bp as activities
from orchestrators import orchestrator, starters

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(starters)
app.register_functions(orchestrator)
app.register_functions(activities)
