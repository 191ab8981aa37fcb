"""The ``c360`` command-line tool: demo data, local runs through the local Functions host, status, tools."""
