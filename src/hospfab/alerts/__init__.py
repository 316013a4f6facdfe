"""Alerts for the night shift: events derived from the journal database, sent once to configured channels.

- :mod:`hospfab.alerts.config`: the ``alerts`` mapping of the site configuration (channels, SMTP, thresholds).
- :mod:`hospfab.alerts.store`: events and deliveries in the journal database (component ``alerts``).
- :mod:`hospfab.alerts.events`: events derived from the queue's state with a cursor (plate failed, printer lost
  or in error, bed waiting for clearing, lot done, lot deadline at risk, runner stopped).
- :mod:`hospfab.alerts.channels`: webhook (JSON POST), email (SMTP, STARTTLS), command.
- :mod:`hospfab.alerts.deliver`: one pass (collect, then send what is due, with backoff) and the background
  hook the queue runner calls each round, which never blocks dispatch.
"""
