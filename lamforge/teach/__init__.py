"""Teach mode: a person shows a task once; it becomes an editable skill that replays with new values.

    lamforge teach record --env office --name bold-phrase "Make 'quarterly results' bold"
    lamforge skills list | show NAME | edit NAME | rm NAME
    lamforge run --skill bold-phrase --param phrase="annual report" [--model office/lam4]
"""
