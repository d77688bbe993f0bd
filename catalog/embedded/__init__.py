"""The embedded Atlas: Atlas's v2 semantics over the catalog store, without a web framework.

One module per area (``entities``, ``typedefs``, ``search``, ``notifications``,
``openlineage``); ``web.atlas_v2`` maps HTTP onto them. Every write goes through the
store's diff-then-apply path (``catalog.store.plan_upsert`` / ``apply_plan``).
"""
