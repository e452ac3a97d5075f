"""Tool use: a catalog of callable functions (Python, OpenAPI, MCP) as ActionSpecs, retrieval over
their documentation, tool-calling prompts, and the BFCL benchmark (``lamforge bench bfcl``).

    from lamforge.tools import Catalog
    catalog = Catalog([my_function]); catalog.search("what I need", k=5)

See ``lamforge/tools/catalog.py`` for the API.
"""

from lamforge.tools.catalog import Catalog, Tool

__all__ = ["Catalog", "Tool"]
