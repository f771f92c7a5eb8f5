"""The scoring model compiled to SQL text: predicates, conditions, rules, the next change, the lifecycle
stage (bounds, fold, replay), the scoring query, the result's shape, other engines' dialects.

No connection of its own: the runners of `leadscore.batch` and the bulk paths of `leadscore.bulk` run
what it writes (`lookups` fills its tables through the connection a runner hands it).
"""
