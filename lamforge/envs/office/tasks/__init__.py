"""The Office task families (registered on import)."""

from lamforge.envs.office.tasks import formatting, page, structure
from lamforge.envs.tasks import register_families

FAMILIES = formatting.FAMILIES + structure.FAMILIES + page.FAMILIES
register_families("lamforge/Office-v0", FAMILIES)
