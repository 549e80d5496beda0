"""Events a lower package announces and a higher (or sibling) one acts on, in the same unit of work.

The layering (``.importlinter``) lets ``visits`` import neither ``tasks`` nor ``sales``, yet a verified
check-in completes the BD's visit tasks and a competitor form feeds the competitor records. The sender
announces the fact here; the package that owns the consequence connects a receiver in its service module
(as ``devices`` does to ``auth.session_ended``). Receivers run synchronously inside the sender's
transaction: they only flush, and an error in one rolls back the whole request.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sender: the Visit; kwargs: tenant_id, user_id, merchant_id, visit_id, at (the check-in's client time)
visit_verified = _signals.signal("visit-verified")

# sender: the Visit; kwargs: form (the form definition), answers (validated), user_id, merchant_id, at
form_submitted = _signals.signal("form-submitted")
