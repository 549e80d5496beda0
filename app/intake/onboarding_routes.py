"""Public endpoints: no sign-in, rate limited."""

from __future__ import annotations

import functools

from flask import request
from flask.views import MethodView

from app.api import VALIDATION_ERRORS, Blueprint, document_errors
from app.errors import InvalidPhone, RateLimited
from app.intake import onboarding
from app.intake.examples import ONBOARDING_EXAMPLE
from app.intake.schemas import OnboardingReceivedSchema, OnboardingSchema

blp = Blueprint("public", __name__, url_prefix="/api/v1/public", description="Public (no sign-in)")


def ip_limited(func):
    """Counted before the body is validated: invalid submissions count too."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        onboarding.limit_ip(request.remote_addr)
        return func(*args, **kwargs)

    return wrapper


@blp.route("/onboarding")
class Onboarding(MethodView):
    decorators = [ip_limited]

    @blp.arguments(OnboardingSchema, example=ONBOARDING_EXAMPLE)
    @blp.response(202, OnboardingReceivedSchema, example=onboarding.RECEIVED)
    @document_errors(
        blp,
        (
            *VALIDATION_ERRORS,
            InvalidPhone,
            (
                RateLimited,
                "too many submissions from this network (10 an hour) or for this phone (3 a day); see `retry_after`",
            ),
        ),
    )
    def post(self, fields):
        """A merchant signs up: creates or updates its record and a to-do for our team. No sign-in."""
        return onboarding.submit(fields)
