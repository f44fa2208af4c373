"""Duplicate SMS: find them, and say who caused them.

``detect`` finds the clusters (records to one recipient with one body, seconds
apart), ``crossref`` gives each a verdict from the application's request logs
(through ``reconcile``, which matches logged POSTs to Twilio's records), and
``investigate`` decides the duplicates recipients reported.
"""
