"""``lamforge forge``: the whole pipeline in one command (:mod:`lamforge.forge.commands`), its stages
(:mod:`lamforge.forge.pipeline`) and the plan that fits it to a time budget (:mod:`lamforge.forge.budget`)."""
