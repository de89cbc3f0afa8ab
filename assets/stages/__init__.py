"""The chain's stages as plain Python: parameters, version payload, build and checks.

Each module is one stage; the Dagster assets in assets/ only read their inputs, call the stage
function and report its `StageResult`. Nothing here imports dagster.
"""
