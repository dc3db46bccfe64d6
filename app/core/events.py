"""Signals the domain sends when something happened. Listeners (live pushes, billing, HL7) hook
in here so that clinical modules never import them. Receivers get the session as sender and
must defer anything that leaves the transaction through after_commit."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

admitted = _signals.signal("admitted")
bed_changed = _signals.signal("bed_changed")
