"""Customer service for an online store: a real database, shipping-label and e-mail services on
loopback, a 345-function API catalog (14 business functions, 331 distractors)."""
