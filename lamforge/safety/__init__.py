"""Safety against the content an agent reads (issue #18): a corpus of prompt injections planted into
each environment's real content (:mod:`.corpus`, judged by :mod:`.goals`), the simulated user that
approves only what a request asks for and the audit of irreversible actions (:mod:`.user`), the
benchmark (:mod:`.bench`, ``lamforge bench safety``) and the marking of environment content as data
in a prompt (:mod:`.delimit`). The argument guard itself is :mod:`lamforge.core.guard`; the policy
that asks before irreversible actions, :mod:`lamforge.core.safety`.
"""
