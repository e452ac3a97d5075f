"""The food-ordering task families (registered on import)."""

from lamforge.envs.food.tasks import account, ordering
from lamforge.envs.food.tasks.common import ENV_ID
from lamforge.envs.tasks import register_families

FAMILIES = ordering.FAMILIES + account.FAMILIES
register_families(ENV_ID, FAMILIES)
