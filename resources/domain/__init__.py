"""The domain: brief schema, chain order, registry, recipes, prices, lineage.

Nothing here imports torch or dagster; every other layer imports this one.
"""
