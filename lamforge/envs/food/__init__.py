"""A multi-page food-ordering web site (FastAPI + SQLite on loopback) as a lamforge environment:
``lamforge/Food-v0`` (short name ``food``). See ``env.py`` for the environment, ``app.py`` for the
site, ``db.py`` for its database and ``tasks/`` for the task families."""
