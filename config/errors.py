"""The page for an unhandled error: a lost database is a 503 the user can retry, anything else a 500.

Both are rendered without a request context: the context processors read the database, which
may be the very thing that failed. Every write is one transaction, so either way nothing of the
failed request was saved.
"""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseServerError
from django.template import loader

# A dropped or refused connection (OperationalError) and a connection already closed (InterfaceError).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30


def server_error(request):
    error = sys.exc_info()[1]  # Django calls this handler while handling the exception
    if isinstance(error, DATABASE_UNAVAILABLE):
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return HttpResponseServerError(loader.get_template("500.html").render())
